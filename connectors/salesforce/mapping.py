"""Salesforce records as canonical events: accounts, opportunities with their stage
history, and cases as customer requests. Pure: no HTTP, testable on recorded payloads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from connectors.linking import field_link_events, rule_targets
from core.events import Event, parse_utc
from core.request_text import request_text, request_title

__all__ = ["SalesforceMapping", "account_key", "case_key", "deal_key", "map_record"]

MakeEvent = Callable[[str, str, str, datetime, Mapping[str, Any]], Event]


class SalesforceMapping(Protocol):
    """The settings the mapping reads (the connector's settings satisfy it)."""

    @property
    def arr_field(self) -> str | None: ...
    @property
    def tier_field(self) -> str | None: ...
    @property
    def link_field(self) -> str | None: ...
    @property
    def link_rules(self) -> dict[str, str]: ...


def map_record(
    make: MakeEvent, stream: str, record: Mapping[str, Any], settings: SalesforceMapping
) -> list[Event]:
    """The events one record of ``stream`` stands for, each at its own time."""
    at = parse_utc(record["SystemModstamp"])
    change = f"modstamp:{record['SystemModstamp']}"
    if stream == "Account":
        arr = record.get(settings.arr_field) if settings.arr_field else None
        return [
            make(
                "customer_account.upserted",
                account_key(record["Id"]),
                change,
                at,
                {
                    "name": record.get("Name") or record["Id"],
                    "domain": record.get("Website"),
                    "arr": float(arr) if isinstance(arr, int | float) else None,
                    "tier": record.get(settings.tier_field) if settings.tier_field else None,
                },
            )
        ]
    if stream == "Opportunity":
        key = deal_key(record["Id"])
        events = [
            make(
                "deal.upserted",
                key,
                change,
                at,
                {
                    "name": record.get("Name"),
                    "account": account_key(record["AccountId"])
                    if record.get("AccountId")
                    else None,
                    "stage": record.get("StageName"),
                    "amount": record.get("Amount"),
                    "close_date": record.get("CloseDate"),
                    "is_closed": bool(record.get("IsClosed")),
                    "is_won": bool(record.get("IsWon")),
                },
            )
        ]
        rules = rule_targets(record.get("Name"), settings.link_rules)
        value = record.get(settings.link_field) if settings.link_field else None
        events.extend(field_link_events(make, "deal.linked", key, value, at, rules))
        return events
    if stream == "OpportunityHistory":
        return [
            make(
                "deal.stage_changed",
                deal_key(record["OpportunityId"]),
                f"history:{record['Id']}",
                parse_utc(record["CreatedDate"]),
                {"to_stage": record["StageName"]},
            )
        ]
    key = case_key(record["Id"])
    opened = parse_utc(record["CreatedDate"])
    events = [
        make(
            "customer_request.opened",
            key,
            "opened",
            opened,
            {
                "title": request_title(record.get("Subject")),
                "text": request_text(record.get("Subject"), record.get("Description")),
                "priority": record.get("Priority"),
                "status": None,  # known only as of the last update, below
                "channel": record.get("Origin"),
                "account": account_key(record["AccountId"]) if record.get("AccountId") else None,
            },
        ),
        make(
            "customer_request.status_changed",
            key,
            change,
            at,
            {"to_status": record.get("Status") or ""},
        ),
    ]
    if record.get("IsClosed") and record.get("ClosedDate"):
        events.append(
            make(
                "customer_request.closed",
                key,
                f"closed:{record['ClosedDate']}",
                parse_utc(record["ClosedDate"]),
                {"resolution": record.get("Status")},
            )
        )
    return events


def account_key(record_id: str) -> str:
    return f"salesforce-account-{record_id}"


def case_key(record_id: str) -> str:
    return f"salesforce-case-{record_id}"


def deal_key(record_id: str) -> str:
    return f"salesforce-opportunity-{record_id}"
