"""A HubSpot emulator: CRM search with its 10,000-result ceiling, pipelines, property
history, associations, archived listings, 429s without Retry-After, v3-signed webhooks.

Search responses are shaped like the recorded deals search (``total``, ``results[]`` with
``properties`` and ``archived``, ``paging.next.after``). Asking for ``after`` past the
ceiling is a 400, as HubSpot answers, so a connector that does not re-anchor fails here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from emulators.http_server import EmulatorServer, Reply, Request

__all__ = ["HubSpotEmulator", "generate_crm", "PIPELINE"]

CEILING = 10_000
PIPELINE: dict[str, Any] = {
    "id": "default",
    "label": "Sales Pipeline",
    "displayOrder": 0,
    "stages": [
        {
            "id": "appointmentscheduled",
            "label": "Appointment Scheduled",
            "displayOrder": 0,
            "metadata": {"isClosed": "false", "probability": "0.2"},
        },
        {
            "id": "qualifiedtobuy",
            "label": "Qualified To Buy",
            "displayOrder": 1,
            "metadata": {"isClosed": "false", "probability": "0.4"},
        },
        {
            "id": "closedwon",
            "label": "Closed Won",
            "displayOrder": 2,
            "metadata": {"isClosed": "true", "probability": "1.0"},
        },
        {
            "id": "closedlost",
            "label": "Closed Lost",
            "displayOrder": 3,
            "metadata": {"isClosed": "true", "probability": "0.0"},
        },
    ],
}


TICKET_PIPELINE = {
    "id": "0",
    "label": "Support Pipeline",
    "displayOrder": 0,
    "stages": [
        {"id": "1", "label": "New", "displayOrder": 0, "metadata": {"ticketState": "OPEN"}},
        {
            "id": "2",
            "label": "Waiting on us",
            "displayOrder": 1,
            "metadata": {"ticketState": "OPEN"},
        },
        {"id": "4", "label": "Closed", "displayOrder": 3, "metadata": {"ticketState": "CLOSED"}},
    ],
}


def hs_time(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class HubSpotEmulator(EmulatorServer):
    def __init__(
        self, crm: dict[str, Any], *, token: str = "pat-na1-x", client_secret: str = "hs-secret"
    ) -> None:
        # {"deals": [...], "companies": [...], "history": {id: [...]}, "associations": {...}}
        self.crm = crm
        self.token, self.client_secret = token, client_secret
        self.throttle_next = 0
        self.throttle_policy = "SECONDLY"
        super().__init__({}, fallback=self._serve)

    def _serve(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
            )
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return Reply(
                429,
                {
                    "status": "error",
                    "message": f"You have reached your {self.throttle_policy.lower()} limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": self.throttle_policy,
                },
            )
        match = re.fullmatch(r"/crm/v3/objects/(deals|companies|tickets)/search", request.path)
        if match and request.method == "POST":
            return self._search(match.group(1), request.json())
        if request.path == "/crm/v3/pipelines/deals":
            return Reply(200, {"results": [PIPELINE]})
        if request.path == "/crm/v3/pipelines/tickets":
            return Reply(200, {"results": [TICKET_PIPELINE]})
        if request.path == "/crm/v3/objects/deals/batch/read" and request.method == "POST":
            return self._batch_read(request.json())
        if (
            request.path == "/crm/v4/associations/deals/companies/batch/read"
            and request.method == "POST"
        ):
            ids = [i["id"] for i in request.json()["inputs"]]
            return Reply(
                200,
                {
                    "status": "COMPLETE",
                    "results": [
                        {
                            "from": {"id": i},
                            "to": [
                                {
                                    "toObjectId": int(c),
                                    "associationTypes": [
                                        {
                                            "category": "HUBSPOT_DEFINED",
                                            "typeId": 5,
                                            "label": "Primary",
                                        }
                                    ],
                                }
                                for c in self.crm["associations"].get(i, [])
                            ],
                        }
                        for i in ids
                    ],
                },
            )
        match = re.fullmatch(r"/crm/v3/objects/(deals|companies|tickets)", request.path)
        if match and request.query.get("archived") == "true":
            rows = [r for r in self.crm.get("archived", []) if r["kind"] == match.group(1)]
            after, limit = int(request.query.get("after") or 0), int(request.query.get("limit", 10))
            page: dict[str, Any] = {
                "results": [
                    {k: v for k, v in r.items() if k != "kind"} for r in rows[after : after + limit]
                ]
            }
            if after + limit < len(rows):
                page["paging"] = {"next": {"after": str(after + limit)}}
            return Reply(200, page)
        return Reply(
            404, {"status": "error", "message": "Not found", "category": "OBJECT_NOT_FOUND"}
        )

    def _search(self, kind: str, body: dict[str, Any]) -> Reply:
        flt = body["filterGroups"][0]["filters"][0]
        if (flt["propertyName"], flt["operator"]) != ("hs_lastmodifieddate", "GTE"):
            return Reply(
                400,
                {
                    "status": "error",
                    "message": "unsupported filter",
                    "category": "VALIDATION_ERROR",
                },
            )
        since = int(flt["value"])
        after, limit = int(body.get("after") or 0), min(int(body.get("limit", 10)), 200)
        if after + limit > CEILING:
            return Reply(
                400,
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"The search API can only return up to {CEILING} results.",
                },
            )
        rows = sorted(
            (r for r in self.crm[kind] if _ms(r["properties"]["hs_lastmodifieddate"]) >= since),
            key=lambda r: (r["properties"]["hs_lastmodifieddate"], int(r["id"])),
        )
        page = rows[after : after + limit]
        wanted = body.get("properties") or []
        results = [
            {**r, "properties": {k: r["properties"].get(k) for k in {*wanted, "hs_object_id"}}}
            for r in page
        ]
        reply: dict[str, Any] = {"total": len(rows), "results": results}
        if after + limit < len(rows):
            reply["paging"] = {"next": {"after": str(after + limit)}}
        return Reply(200, reply)

    def _batch_read(self, body: dict[str, Any]) -> Reply:
        by_id = {r["id"]: r for r in self.crm["deals"]}
        results = []
        for item in body["inputs"]:
            record = by_id.get(item["id"])
            if record is None:
                continue
            shaped = {
                **record,
                "properties": {
                    k: record["properties"].get(k) for k in body.get("properties") or []
                },
            }
            if "dealstage" in (body.get("propertiesWithHistory") or []):
                shaped["propertiesWithHistory"] = {
                    "dealstage": sorted(
                        self.crm["history"].get(item["id"], []),
                        key=lambda h: h["timestamp"],
                        reverse=True,
                    )
                }
            results.append(shaped)
        return Reply(200, {"status": "COMPLETE", "results": results})

    def archive(self, kind: str, record_id: str, at: datetime) -> None:
        """Archived in HubSpot: gone from search and batch reads, listed as archived, and
        ``hs_lastmodifieddate`` left where it was (archiving need not move it)."""
        rows = self.crm[kind]
        record = next(r for r in rows if r["id"] == record_id)
        rows.remove(record)
        self.crm.setdefault("archived", []).append(
            {**record, "kind": kind, "archived": True, "archivedAt": hs_time(at)}
        )

    def signed(
        self, notifications: list[dict[str, Any]], uri: str, at: datetime
    ) -> tuple[bytes, dict[str, str]]:
        raw = json.dumps(notifications).encode()
        stamp = str(int(at.timestamp() * 1000))
        digest = hmac.new(
            self.client_secret.encode(),
            b"POST" + uri.encode() + raw + stamp.encode(),
            hashlib.sha256,
        )
        return raw, {
            "X-HubSpot-Signature-v3": base64.b64encode(digest.digest()).decode(),
            "X-HubSpot-Request-Timestamp": stamp,
        }


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def company_record(
    company_id: str, name: str, domain: str, arr: float, at: datetime
) -> dict[str, Any]:
    """A company as the CRM search returns it, with an ARR property."""
    return {
        "id": company_id,
        "properties": {
            "name": name,
            "domain": domain,
            "arr": str(arr),
            "hs_lastmodifieddate": hs_time(at),
            "createdate": hs_time(at),
        },
        "createdAt": hs_time(at),
        "updatedAt": hs_time(at),
        "archived": False,
    }


def deal_record(
    deal_id: str,
    name: str,
    amount: float,
    stage: str,
    created: datetime,
    modified: datetime,
    roadmap_item: str | None,
) -> dict[str, Any]:
    """A deal in the default pipeline as the CRM search returns it."""
    return {
        "id": deal_id,
        "properties": {
            "dealname": name,
            "amount": str(amount),
            "closedate": None,
            "dealstage": stage,
            "pipeline": "default",
            "hs_lastmodifieddate": hs_time(modified),
            "createdate": hs_time(created),
            "hs_object_id": deal_id,
            "roadmap_item": roadmap_item,
        },
        "createdAt": hs_time(created),
        "updatedAt": hs_time(modified),
        "archived": False,
    }


def stage_history(stages: list[tuple[str, datetime]]) -> list[dict[str, Any]]:
    """``propertiesWithHistory.dealstage``: each stage with the moment it was set."""
    return [{"value": s, "timestamp": hs_time(at), "sourceType": "CRM_UI"} for s, at in stages]


def generate_crm(
    deals: int, companies: int = 5, *, start: datetime | None = None, same_time: int = 1
) -> dict[str, Any]:
    """Deals walking the default pipeline; ``same_time`` deals share each modification time."""
    start = start or datetime(2026, 3, 2, 9, tzinfo=UTC)
    stages = [s["id"] for s in PIPELINE["stages"][:3]]
    crm: dict[str, Any] = {
        "deals": [],
        "companies": [],
        "history": {},
        "associations": {},
        "archived": [],
    }
    for c in range(companies):
        crm["companies"].append(
            company_record(str(7000 + c), f"Company {c}", f"c{c}.example", 12000 * (c + 1), start)
        )
    for d in range(deals):
        walked = stages[: d % 3 + 1]
        modified = start + timedelta(seconds=d // same_time)
        deal_id = str(479475667000 + d)
        crm["history"][deal_id] = stage_history(
            [(stage, start - timedelta(days=3 - i)) for i, stage in enumerate(walked)]
        )
        crm["associations"][deal_id] = [str(7000 + d % companies)]
        link = f"R{d % 3}" if d % 4 == 0 else None
        created = start - timedelta(days=4)  # before its first stage was set
        crm["deals"].append(
            deal_record(deal_id, f"Deal {d}", 1000 + d, walked[-1], created, modified, link)
        )
    crm["tickets"] = [
        {
            "id": str(9100 + t),
            "properties": {
                "subject": f"Feature request {t}",
                "content": f"We would like feature {t} for our team.",
                "hs_pipeline_stage": "4" if t % 2 else "1",
                "hs_ticket_priority": "HIGH",
                "createdate": hs_time(start),
                "closed_date": hs_time(start + timedelta(days=2)) if t % 2 else None,
                "hs_lastmodifieddate": hs_time(start + timedelta(days=2)),
                "roadmap_item": f"GEN-{t + 1}",
            },
            "createdAt": hs_time(start),
            "updatedAt": hs_time(start + timedelta(days=2)),
            "archived": False,
        }
        for t in range(4)
    ]
    return crm
