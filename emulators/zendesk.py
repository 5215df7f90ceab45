"""A Zendesk emulator: the incremental cursor export, audits, organizations, auth and 429.

Shaped like the real samples: ``after_cursor``/``after_url``/``before_cursor``/
``end_of_stream``/``tickets[]`` with ``generated_timestamp``. ``start_time`` must be at
least a minute old (422 otherwise), and a request may not carry both ``start_time`` and
``cursor`` (400), which is what keeps a connector honest about never resending it.

The time-based exports (ticket events, organizations) page by ``next_page`` with
``start_time`` = the page's ``end_time``, ``export_page_size`` records a page (1,000 as in
Zendesk), and answer 403 unless the token is an admin's. A deleted ticket stays in the
ticket export with status ``deleted``, and its audits answer 404, as Zendesk's do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from emulators.http_server import EmulatorServer, Reply, Request

__all__ = ["ZendeskEmulator", "generate_tickets"]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


class ZendeskEmulator(EmulatorServer):
    def __init__(
        self,
        tickets: list[dict[str, Any]],
        audits: dict[int, list[dict[str, Any]]] | None = None,
        orgs: list[dict[str, Any]] | None = None,
        *,
        email: str = "agent@example.com",
        token: str = "zd-token",
        webhook_secret: str = "zd-hook",
    ) -> None:
        self.tickets = {t["id"]: t for t in tickets}
        self.audits = audits or {}
        self.orgs = {o["id"]: o for o in orgs or []}
        self.email, self.token, self.webhook_secret = email, token, webhook_secret
        self.throttle_next = 0
        self.empty_pages = 0  # answer this many empty pages with end_of_stream false first
        self.admin = True  # the exports need an admin's token
        self.export_page_size = 1000
        self.deleted: set[int] = set()  # tickets whose audits and record answer 404
        super().__init__({}, fallback=self._serve)

    def _serve(self, request: Request) -> Reply:
        expected = "Basic " + base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return Reply(401, {"error": "Couldn't authenticate you"})
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return Reply(429, {"error": "APIRateLimitExceeded"}, {"Retry-After": "1"})
        if request.path == "/api/v2/users/me.json":
            return Reply(200, {"user": {"id": 1, "email": self.email}})
        if request.path == "/api/v2/incremental/tickets/cursor.json":
            return self._export(request)
        if request.path in (
            "/api/v2/incremental/ticket_events.json",
            "/api/v2/incremental/organizations.json",
        ):
            if not self.admin:
                return Reply(403, {"error": "Forbidden", "description": "Admins only"})
            if "events" in request.path:
                return self._timed(request, "ticket_events", self._ticket_events(), "timestamp")
            orgs = sorted(self.orgs.values(), key=lambda o: (_epoch(o["updated_at"]), o["id"]))
            return self._timed(request, "organizations", orgs, "updated_at")
        if request.path == "/api/v2/organizations/show_many.json":
            ids = [int(i) for i in request.query.get("ids", "").split(",") if i]
            return Reply(200, {"organizations": [self.orgs[i] for i in ids if i in self.orgs]})
        match = re.fullmatch(r"/api/v2/tickets/(\d+)(/audits)?.json", request.path)
        if match and int(match.group(1)) in self.deleted:
            return Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        match = re.fullmatch(r"/api/v2/tickets/(\d+)/audits.json", request.path)
        if match:
            return Reply(
                200,
                {
                    "audits": self.audits.get(int(match.group(1)), []),
                    "next_page": None,
                    "previous_page": None,
                    "count": len(self.audits.get(int(match.group(1)), [])),
                },
            )
        match = re.fullmatch(r"/api/v2/tickets/(\d+).json", request.path)
        if match and int(match.group(1)) in self.tickets:
            return Reply(200, {"ticket": self.tickets[int(match.group(1))]})
        return Reply(404, {"error": "RecordNotFound", "description": "Not found"})

    def _export(self, request: Request) -> Reply:
        query = request.query
        if "cursor" in query and "start_time" in query:
            return Reply(
                400,
                {
                    "error": "InvalidPaginationParameter",
                    "description": "cursor and start_time cannot be used together",
                },
            )
        ordered = sorted(self.tickets.values(), key=lambda t: (t["generated_timestamp"], t["id"]))
        if "cursor" in query:
            stamp, _, last_id = base64.b64decode(query["cursor"]).decode().partition("|")
            position = (float(stamp), int(last_id))
            remaining = [t for t in ordered if (t["generated_timestamp"], t["id"]) > position]
        else:
            start = int(query.get("start_time", -1))
            if start < 0:
                return Reply(
                    400, {"error": "InvalidValue", "description": "start_time is required"}
                )
            if start > time.time() - 60:
                return Reply(
                    422,
                    {
                        "error": "InvalidValue",
                        "description": (
                            "Too recent start_time. Use a start_time older than 1 minute"
                        ),
                    },
                )
            remaining = [t for t in ordered if t["generated_timestamp"] >= start]
            position = (start - 1, 0)
        if self.empty_pages > 0:
            self.empty_pages -= 1
            cursor = base64.b64encode(f"{position[0]}|{position[1]}".encode()).decode()
            return Reply(200, self._page([], cursor, end=False))
        size = int(query.get("per_page", 1000))
        page = remaining[:size]
        last = (page[-1]["generated_timestamp"], page[-1]["id"]) if page else position
        cursor = base64.b64encode(f"{last[0]}|{last[1]}".encode()).decode()
        return Reply(200, self._page(page, cursor, end=len(remaining) <= size))

    def _ticket_events(self) -> list[dict[str, Any]]:
        """Every audit as the ticket events export shapes it: the changed field as a key."""
        rows = []
        for ticket_id, audits in self.audits.items():
            if ticket_id in self.deleted:
                continue
            for audit in audits:
                children = []
                for change in audit.get("events") or []:
                    child = {
                        "id": change["id"],
                        "via": "Web form",
                        "via_reference_id": None,
                        change["field_name"]: change.get("value"),
                        "event_type": change["type"],
                    }
                    if change["type"] == "Change":
                        child["previous_value"] = change.get("previous_value")
                    children.append(child)
                rows.append(
                    {
                        "id": audit["id"],
                        "ticket_id": ticket_id,
                        "timestamp": _epoch(audit["created_at"]),
                        "created_at": audit["created_at"],
                        "updater_id": audit.get("author_id"),
                        "via": "Web form",
                        "event_type": "Audit",
                        "child_events": children,
                    }
                )
        return sorted(rows, key=lambda r: (r["timestamp"], r["id"]))

    def _timed(self, request: Request, name: str, rows: list[dict[str, Any]], at: str) -> Reply:
        """A time-based export page: from ``start_time``, ``next_page`` at ``end_time``."""
        start = int(request.query.get("start_time", -1))
        if start < 0:
            return Reply(400, {"error": "InvalidValue", "description": "start_time is required"})
        if start > time.time() - 60:
            return Reply(422, {"error": "InvalidValue", "description": "Too recent start_time"})

        def stamp(row: dict[str, Any]) -> int:
            value = row[at]
            return value if isinstance(value, int) else _epoch(value)

        page = [r for r in rows if stamp(r) >= start][: self.export_page_size]
        end = stamp(page[-1]) if page else start
        return Reply(
            200,
            {
                name: page,
                "count": len(page),
                "end_time": end,
                "end_of_stream": len(page) < self.export_page_size,
                "next_page": f"{self.url}{request.path}?start_time={end}",
            },
        )

    def delete(self, ticket_id: int, at: datetime) -> None:
        """Deleted in Zendesk: the export shows status ``deleted``; the rest answers 404."""
        self.deleted.add(ticket_id)
        self.tickets[ticket_id].update(
            status="deleted", updated_at=_iso(at), generated_timestamp=int(at.timestamp())
        )

    def _page(self, tickets: list[dict[str, Any]], cursor: str, *, end: bool) -> dict[str, Any]:
        return {
            "after_cursor": cursor,
            "after_url": f"{self.url}/api/v2/incremental/tickets/cursor.json?cursor={cursor}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": end,
            "tickets": tickets,
        }

    # --- test helpers --------------------------------------------------------------

    def change_status(self, ticket_id: int, status: str, at: datetime) -> None:
        ticket = self.tickets[ticket_id]
        audit_id = 9_000_000 + sum(len(a) for a in self.audits.values())
        self.audits.setdefault(ticket_id, []).append(
            {
                "id": audit_id,
                "ticket_id": ticket_id,
                "created_at": _iso(at),
                "author_id": 1,
                "events": [
                    {
                        "id": audit_id * 10,
                        "type": "Change",
                        "field_name": "status",
                        "value": status,
                        "previous_value": ticket["status"],
                    }
                ],
            }
        )
        ticket.update(status=status, updated_at=_iso(at), generated_timestamp=int(at.timestamp()))

    def signed(self, body: dict[str, Any], at: datetime) -> tuple[bytes, dict[str, str]]:
        raw = json.dumps(body).encode()
        stamp = _iso(at)
        digest = hmac.new(
            self.webhook_secret.encode(), stamp.encode() + raw, hashlib.sha256
        ).digest()
        return raw, {
            "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        }


def generate_tickets(
    count: int,
    *,
    seed: int = 3,
    start: datetime | None = None,
    orgs: int = 5,
    groups: tuple[int, ...] = (111, 222),
) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Tickets walking new -> open -> (escalated to another group) -> solved, with audits."""
    rng = random.Random(seed)
    start = start or datetime(2026, 2, 2, 9, tzinfo=UTC)
    tickets, audits = [], {}
    event_id = 1000
    for n in range(count):
        ticket_id = 500 + n
        created = start + timedelta(minutes=rng.randint(0, 60 * 24 * 20))
        moment, status, group = created, "new", groups[0]
        trail = [
            {
                "id": 7000 + 10 * n,
                "ticket_id": ticket_id,
                "created_at": _iso(created),
                "author_id": 1,
                "events": [
                    {"id": event_id, "type": "Create", "field_name": "status", "value": "new"},
                    {
                        "id": event_id + 1,
                        "type": "Create",
                        "field_name": "group_id",
                        "value": str(group),
                    },
                ],
            }
        ]
        event_id += 2
        steps = ["open", "escalate", "solved"][: rng.randint(1, 3)]
        for index, step in enumerate(steps, start=1):
            moment += timedelta(hours=rng.randint(1, 48))
            if step == "escalate":
                change = {
                    "id": event_id,
                    "type": "Change",
                    "field_name": "group_id",
                    "value": str(groups[1]),
                    "previous_value": str(group),
                }
                group = groups[1]
            else:
                change = {
                    "id": event_id,
                    "type": "Change",
                    "field_name": "status",
                    "value": step,
                    "previous_value": status,
                }
                status = step
            event_id += 1
            trail.append(
                {
                    "id": 7000 + 10 * n + index,
                    "ticket_id": ticket_id,
                    "created_at": _iso(moment),
                    "author_id": 1,
                    "events": [change],
                }
            )
        tags = ["enterprise"] + ([f"jira_gen-{n % 40 + 1}"] if n % 3 == 0 else [])
        tickets.append(
            {
                "id": ticket_id,
                "url": f"https://example.zendesk.com/api/v2/tickets/{ticket_id}.json",
                "created_at": _iso(created),
                "updated_at": _iso(moment),
                "generated_timestamp": int(moment.timestamp()),
                "type": "incident",
                "subject": f"Customer problem {n}",
                "description": f"Problem {n}: the report does not load since this morning.",
                "priority": rng.choice(["low", "normal", "high"]),
                "status": status,
                "requester_id": 20000 + n,
                "assignee_id": 300,
                "group_id": group,
                "organization_id": 900 + n % orgs,
                "tags": tags,
                "custom_fields": [],
                "via": {"channel": "web"},
            }
        )
        audits[ticket_id] = trail
    organizations = [
        {
            "id": 900 + o,
            "name": f"Customer {o}",
            "created_at": _iso(start),
            "updated_at": _iso(start),
            "domain_names": [f"customer{o}.example"],
            "organization_fields": {"arr": 10000 * (o + 1), "tier": "enterprise"},
        }
        for o in range(orgs)
    ]
    return tickets, audits, organizations
