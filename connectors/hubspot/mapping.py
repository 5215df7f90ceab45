"""HubSpot companies, deals and tickets as canonical events. Pure: no HTTP, testable on
recorded payloads; pipelines give each stage its label and whether it closes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from connectors.linking import field_link_events, jira_keys, link_events, rule_targets
from core.events import Event, parse_utc
from core.request_text import request_text, request_title

__all__ = [
    "HubSpotMapping",
    "company_key",
    "deal_key",
    "map_company",
    "map_deal",
    "map_ticket",
    "ticket_key",
]

MakeEvent = Callable[[str, str, str, datetime, Mapping[str, Any]], Event]


class HubSpotMapping(Protocol):
    """The settings the mapping reads (the connector's settings satisfy it)."""

    @property
    def arr_property(self) -> str | None: ...
    @property
    def tier_property(self) -> str | None: ...
    @property
    def link_property(self) -> str | None: ...
    @property
    def link_rules(self) -> dict[str, str]: ...


def map_company(make: MakeEvent, record: Mapping[str, Any], settings: HubSpotMapping) -> Event:
    """A company as a customer account, ARR and tier from the configured properties."""
    props = record["properties"]
    arr = props.get(settings.arr_property) if settings.arr_property else None
    return make(
        "customer_account.upserted",
        company_key(record["id"]),
        f"modified:{props['hs_lastmodifieddate']}",
        parse_utc(props["hs_lastmodifieddate"]),
        {
            "name": props.get("name") or record["id"],
            "domain": props.get("domain"),
            "arr": float(arr) if arr not in (None, "") else None,
            "tier": props.get(settings.tier_property) if settings.tier_property else None,
        },
    )


def map_deal(
    make: MakeEvent,
    record: Mapping[str, Any],
    stages: Mapping[str, Mapping[str, Any]],
    history: list[Mapping[str, Any]],
    companies: list[str],
    settings: HubSpotMapping,
) -> list[Event]:
    """A deal with its stage history (each change at its own time) and its links."""
    props = record["properties"]
    key = deal_key(record["id"])
    at = parse_utc(props["hs_lastmodifieddate"])
    stage = stages.get(props.get("dealstage") or "", {})
    events = [
        make(
            "deal.upserted",
            key,
            f"modified:{props['hs_lastmodifieddate']}",
            at,
            {
                "name": props.get("dealname"),
                "account": company_key(companies[0]) if companies else None,
                "pipeline": stage.get("pipeline") or props.get("pipeline"),
                "stage": stage.get("label") or props.get("dealstage"),
                "amount": float(props["amount"]) if props.get("amount") not in (None, "") else None,
                "close_date": props["closedate"][:10] if props.get("closedate") else None,
                "is_closed": bool(stage.get("closed")),
                "is_won": bool(stage.get("won")),
            },
        )
    ]
    for entry in sorted(history, key=lambda h: h["timestamp"]):
        label = stages.get(entry["value"], {}).get("label") or entry["value"]
        events.append(
            make(
                "deal.stage_changed",
                key,
                f"stage:{entry['timestamp']}:{entry['value']}",
                parse_utc(entry["timestamp"]),
                {"to_stage": label, "pipeline": stage.get("pipeline")},
            )
        )
    rules = rule_targets(props.get("dealname"), settings.link_rules)
    value = props.get(settings.link_property) if settings.link_property else None
    events.extend(field_link_events(make, "deal.linked", key, value, at, rules))
    return events


def map_ticket(
    make: MakeEvent,
    record: Mapping[str, Any],
    stages: Mapping[str, Mapping[str, Any]],
    settings: HubSpotMapping,
) -> list[Event]:
    """A ticket as a customer request: opened, its current status, closed, Jira links."""
    props = record["properties"]
    key = ticket_key(record["id"])
    at = parse_utc(props["hs_lastmodifieddate"])
    stage = stages.get(props.get("hs_pipeline_stage") or "", {})
    status = stage.get("label") or props.get("hs_pipeline_stage") or "unknown"
    events = [
        make(
            "customer_request.opened",
            key,
            "opened",
            parse_utc(props.get("createdate") or props["hs_lastmodifieddate"]),
            {
                "title": request_title(props.get("subject")),
                "text": request_text(props.get("subject"), props.get("content")),
                "priority": props.get("hs_ticket_priority"),
                "status": None,  # known only as of the last update, below
                "channel": "hubspot",
            },
        ),
        make(
            "customer_request.status_changed",
            key,
            f"stage:{props['hs_lastmodifieddate']}",
            at,
            {"to_status": status},
        ),
    ]
    if stage.get("closed"):
        closed = parse_utc(props.get("closed_date") or props["hs_lastmodifieddate"])
        events.append(
            make(
                "customer_request.closed",
                key,
                f"closed:{closed.isoformat()}",
                closed,
                {"resolution": status},
            )
        )
    if settings.link_property and props.get(settings.link_property):
        keys = jira_keys([props[settings.link_property]])
        events.extend(link_events(make, "customer_request.linked", key, keys, at))
    return events


def company_key(record_id: Any) -> str:
    return f"hubspot-company-{record_id}"


def ticket_key(record_id: Any) -> str:
    return f"hubspot-ticket-{record_id}"


def deal_key(record_id: Any) -> str:
    return f"hubspot-deal-{record_id}"
