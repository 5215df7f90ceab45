"""An Intercom emulator: conversation search with ``starting_after`` paging, companies, 429.

Conversations are shaped like the recorded search sample. Results come back in id order,
not ``updated_at`` order (the API promises no order), which is what makes a connector
that advances its bound page by page lose data here, as it would against Intercom.
Throttling answers 429 with ``X-RateLimit-Reset`` (epoch seconds), as Intercom does.

``GET /conversations/{id}`` answers the conversation with its parts (``parts`` holds
them per conversation), ``parts_page_size`` at a time: a longer list names the next
``starting_after`` in ``conversation_parts.pages.next``. Search results may lack
``statistics`` (``without_statistics``), as older and imported conversations do, and a
deleted conversation (``deleted``) answers 404 when read back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import time
from typing import Any

from emulators.http_server import EmulatorServer, Reply, Request

__all__ = ["IntercomEmulator", "generate_conversations"]


class IntercomEmulator(EmulatorServer):
    def __init__(
        self,
        conversations: list[dict[str, Any]],
        companies: dict[str, list[dict[str, Any]]] | None = None,
        *,
        token: str = "ic-token",
        client_secret: str = "ic-secret",
    ) -> None:
        self.conversations = {c["id"]: c for c in conversations}
        self.companies = companies or {}  # contact id -> attached companies
        self.token, self.client_secret = token, client_secret
        self.throttle_next = 0
        self.parts: dict[str, list[dict[str, Any]]] = {}
        self.parts_page_size = 500
        self.deleted: set[str] = set()
        super().__init__({}, fallback=self._serve)

    def _serve(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(
                401,
                {
                    "type": "error.list",
                    "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}],
                },
            )
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return Reply(
                429,
                {"type": "error.list", "errors": [{"code": "rate_limit_exceeded"}]},
                {"X-RateLimit-Reset": str(int(time.time()) + 1)},
            )
        if request.path == "/me":
            return Reply(200, {"type": "admin", "id": "1", "email": "bot@example.com"})
        if (request.method, request.path) == ("POST", "/conversations/search"):
            return self._search(request.json())
        match = re.fullmatch(r"/conversations/([^/]+)", request.path)
        if match and request.method == "GET":
            return self._read_back(match.group(1), request.query.get("starting_after"))
        match = re.fullmatch(r"/contacts/([^/]+)/companies", request.path)
        if match:
            companies = self.companies.get(match.group(1), [])
            return Reply(
                200,
                {
                    "type": "list",
                    "companies": companies,
                    "total_count": len(companies),
                    "pages": {"type": "pages", "page": 1, "per_page": 15, "total_pages": 1},
                },
            )
        return Reply(
            404,
            {
                "type": "error.list",
                "errors": [{"code": "not_found", "message": "Resource Not Found"}],
            },
        )

    def _search(self, body: dict[str, Any]) -> Reply:
        query, pagination = body.get("query") or {}, body.get("pagination") or {}
        if query.get("field") != "updated_at" or query.get("operator") not in (">", "<"):
            return Reply(
                400,
                {
                    "type": "error.list",
                    "errors": [{"code": "parameter_invalid", "message": "Unsupported query"}],
                },
            )
        bound = int(query["value"])
        hits = sorted(
            (
                c
                for c in self.conversations.values()
                if (
                    c["updated_at"] > bound if query["operator"] == ">" else c["updated_at"] < bound
                )
            ),
            key=lambda c: c["id"],
        )
        size = min(int(pagination.get("per_page", 20)), 150)
        start = (
            int(base64.b64decode(pagination["starting_after"]).decode())
            if pagination.get("starting_after")
            else 0
        )
        page = hits[start : start + size]
        pages: dict[str, Any] = {
            "type": "pages",
            "page": start // size + 1,
            "per_page": size,
            "total_pages": max(1, -(-len(hits) // size)),
        }
        if start + size < len(hits):
            pages["next"] = {
                "page": start // size + 2,
                "starting_after": base64.b64encode(str(start + size).encode()).decode(),
            }
        return Reply(
            200,
            {
                "type": "conversation.list",
                "pages": pages,
                "total_count": len(hits),
                "conversations": page,
            },
        )

    def _read_back(self, conversation_id: str, after: str | None) -> Reply:
        if conversation_id in self.deleted or conversation_id not in self.conversations:
            return Reply(
                404,
                {"type": "error.list", "errors": [{"code": "not_found", "message": "Not Found"}]},
            )
        parts = sorted(self.parts.get(conversation_id, []), key=lambda p: p["created_at"])
        start = int(base64.b64decode(after).decode()) if after else 0
        page = parts[start : start + self.parts_page_size]
        listing: dict[str, Any] = {
            "type": "conversation_part.list",
            "conversation_parts": page,
            "total_count": len(parts),
        }
        if start + self.parts_page_size < len(parts):
            token = base64.b64encode(str(start + self.parts_page_size).encode()).decode()
            listing["pages"] = {"type": "pages", "next": {"starting_after": token}}
        body = {**self.conversations[conversation_id], "conversation_parts": listing}
        return Reply(200, body)

    def add_part(self, conversation_id: str, part_type: str, at: int) -> None:
        """A part at ``at``: ``close``/``open``/``snoozed`` move the state, as in Intercom."""
        parts = self.parts.setdefault(conversation_id, [])
        parts.append(
            {
                "type": "conversation_part",
                "id": f"{conversation_id}-{len(parts)}",
                "part_type": part_type,
                "body": None if part_type != "comment" else "<p>Thanks</p>",
                "created_at": at,
                "updated_at": at,
                "notified_at": at,
                "author": {"type": "admin", "id": "814860"},
                "redacted": False,
            }
        )
        conversation = self.conversations[conversation_id]
        moved = {"close": "closed", "open": "open", "snoozed": "snoozed"}.get(part_type)
        if moved:
            conversation.update(state=moved, open=moved != "closed")
        conversation["updated_at"] = max(conversation["updated_at"], at)

    def close(self, conversation_id: str, at: int) -> None:
        conversation = self.conversations[conversation_id]
        stats = conversation["statistics"]
        stats["first_close_at"] = stats["first_close_at"] or at
        stats["last_close_at"] = at
        conversation.update(state="closed", open=False, updated_at=at)

    def signed(self, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        raw = json.dumps(body).encode()
        return raw, {
            "X-Hub-Signature": "sha1="
            + hmac.new(self.client_secret.encode(), raw, hashlib.sha1).hexdigest()
        }


def generate_conversations(
    count: int, *, seed: int = 4, start: int = 1_772_000_000
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Conversations like the recorded sample; ids are not in updated_at order."""
    rng = random.Random(seed)
    conversations, companies = [], {}
    for n in range(count):
        created = start + rng.randint(0, 86400 * 20)
        closed = rng.random() < 0.5
        updated = created + rng.randint(60, 86400 * 3)
        contact = f"contact{n % 7}"
        tags = (
            [{"type": "tag", "id": str(n), "name": f"jira_gen-{n % 40 + 1}"}] if n % 4 == 0 else []
        )
        conversations.append(
            {
                "type": "conversation",
                "id": str(215474207312000 + rng.randint(0, 10**6) * 100 + n),
                "created_at": created,
                "updated_at": updated,
                "waiting_since": None,
                "snoozed_until": None,
                "source": {
                    "type": "conversation",
                    "id": str(n),
                    "delivered_as": "customer_initiated",
                    "subject": "",
                    "body": f"<p>Question {n}</p>",
                    "author": {"type": "user", "id": contact},
                },
                "contacts": {
                    "type": "contact.list",
                    "contacts": [{"type": "contact", "id": contact}],
                },
                "admin_assignee_id": None,
                "team_assignee_id": 55 if n % 3 == 0 else None,
                "open": not closed,
                "state": "closed" if closed else "open",
                "read": True,
                "tags": {"type": "tag.list", "tags": tags},
                "priority": "not_priority",
                "statistics": {
                    "type": "conversation_statistics",
                    "first_close_at": updated if closed else None,
                    "last_close_at": updated if closed else None,
                    "count_reopens": 0,
                },
                "title": f"Conversation {n}",
                "custom_attributes": {"Language": "English"},
            }
        )
        companies[contact] = [
            {
                "type": "company",
                "id": f"co{n % 7}",
                "name": f"Company {n % 7}",
                "company_id": f"c-{n % 7}",
                "monthly_spend": 1000 * (n % 7 + 1),
                "plan": {"type": "plan", "name": "Pro"},
                "created_at": start,
                "updated_at": start,
            }
        ]
    return conversations, companies
