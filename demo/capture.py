"""A local webhook receiver for the demo: keeps every delivery, lists them on request.

``POST /hooks/<name>`` stores the body; ``GET /messages`` (optionally ``?hook=<name>``)
lists what arrived, newest last. Stands where a Slack channel or an incident bridge would.
"""

from __future__ import annotations

import json
import time
from typing import Any

from emulators.http_server import EmulatorServer, Reply, Request

__all__ = ["WebhookCapture"]


class WebhookCapture(EmulatorServer):
    def __init__(self, limit: int = 1000) -> None:
        self.messages: list[dict[str, Any]] = []
        self.limit = limit
        super().__init__({}, fallback=self._serve)

    def _serve(self, request: Request) -> Reply:
        if request.method == "POST" and request.path.startswith("/hooks/"):
            try:
                body = json.loads(request.body or b"null")
            except ValueError:
                return Reply(400, {"error": "body is not JSON"})
            self.messages.append(
                {
                    "hook": request.path.removeprefix("/hooks/"),
                    "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "body": body,
                }
            )
            del self.messages[: -self.limit]
            return Reply(200, {"ok": True})
        if request.method == "GET" and request.path == "/messages":
            hook = request.query.get("hook")
            found = [m for m in self.messages if hook is None or m["hook"] == hook]
            return Reply(200, {"count": len(found), "messages": found})
        return Reply(404, {"error": "POST /hooks/<name> or GET /messages"})
