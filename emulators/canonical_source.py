"""A source that serves canonical events, paged by cursor, with bearer auth and 429s."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from emulators.http_server import EmulatorServer, Reply, Request

__all__ = ["CanonicalSource"]


class CanonicalSource(EmulatorServer):
    def __init__(self, token: str, events: list[dict[str, Any]] | None = None) -> None:
        self.token = token
        self.events: list[dict[str, Any]] = list(events or [])
        self.throttle_next = 0  # answer this many requests with 429 first
        self.retry_after = "1"
        super().__init__({("GET", "/events"): self._events})

    def _events(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(401, {"error": "bad token"})
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return Reply(429, {"error": "slow down"}, {"Retry-After": self.retry_after})
        after = int(request.query.get("after", 0))
        limit = int(request.query.get("limit", 100))
        page = self.events[after : after + limit]
        return Reply(
            200,
            {
                "events": page,
                "next_after": str(after + len(page)),
                "has_more": after + len(page) < len(self.events),
            },
        )

    @staticmethod
    def sign(secret: str, body: bytes) -> str:
        return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    @staticmethod
    def webhook_body(events: list[dict[str, Any]]) -> bytes:
        return json.dumps({"events": events}).encode()
