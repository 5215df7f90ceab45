"""Intercom conversations and companies as canonical events. Pure: no HTTP, testable on
recorded payloads. State changes come from the conversation's own statistics (first and
last close) and its current state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.linking import jira_keys, link_events
from core.events import Event

__all__ = ["IntercomMapping", "account_key", "map_company", "map_conversation", "request_key"]


class IntercomMapping(Protocol):
    """The settings the mapping reads (the connector's settings satisfy it)."""

    @property
    def team_teams(self) -> dict[str, str]: ...
    @property
    def tag_teams(self) -> dict[str, str]: ...
    @property
    def admin_teams(self) -> dict[str, str]: ...
    @property
    def jira_attribute(self) -> str | None: ...
    @property
    def jira_tag_prefix(self) -> str | None: ...


def _at(epoch: Any) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def request_key(conversation_id: Any) -> str:
    return f"intercom-{conversation_id}"


def account_key(company_id: Any) -> str:
    return f"intercom-company-{company_id}"


def map_conversation(
    make: Any, conversation: Mapping[str, Any], account: str | None, settings: IntercomMapping
) -> list[Event]:
    key = request_key(conversation["id"])
    tags = [
        t.get("name") for t in (conversation.get("tags") or {}).get("tags") or [] if t.get("name")
    ]
    team = settings.team_teams.get(str(conversation.get("team_assignee_id")))
    team = team or settings.admin_teams.get(str(conversation.get("admin_assignee_id")))
    team = team or next((settings.tag_teams[t] for t in tags if t in settings.tag_teams), None)
    state = conversation.get("state") or ("open" if conversation.get("open") else "closed")
    created, updated = _at(conversation["created_at"]), _at(conversation["updated_at"])
    source = conversation.get("source") or {}
    events = [
        make(
            "customer_request.opened",
            key,
            "opened",
            created,
            {
                "title": conversation.get("title") or source.get("subject") or None,
                "account": account,
                "priority": conversation.get("priority"),
                "status": state,
                "channel": source.get("delivered_as"),
                "team": team,
                "attributes": {"tags": tags} if tags else {},
            },
        )
    ]
    stats = conversation.get("statistics") or {}
    if stats.get("first_close_at"):
        events.append(
            make(
                "customer_request.status_changed",
                key,
                "first_close",
                _at(stats["first_close_at"]),
                {"from_status": "open", "to_status": "closed"},
            )
        )
    if stats.get("last_close_at") and stats.get("last_close_at") != stats.get("first_close_at"):
        events.append(
            make(
                "customer_request.status_changed",
                key,
                f"close:{stats['last_close_at']}",
                _at(stats["last_close_at"]),
                {"from_status": "open", "to_status": "closed"},
            )
        )
    events.append(
        make(
            "customer_request.status_changed",
            key,
            f"state:{state}:{conversation['updated_at']}",
            updated,
            {"to_status": state},
        )
    )
    if state == "closed":
        closed_at = _at(stats.get("last_close_at") or conversation["updated_at"])
        events.append(
            make(
                "customer_request.closed",
                key,
                f"closed:{stats.get('last_close_at')}",
                closed_at,
                {"resolution": "closed"},
            )
        )
    if team:
        events.append(
            make("customer_request.escalated", key, f"team:{team}", updated, {"team": team})
        )
    attribute = (conversation.get("custom_attributes") or {}).get(settings.jira_attribute or "")
    keys = jira_keys([attribute], tags, settings.jira_tag_prefix)
    events.extend(link_events(make, "customer_request.linked", key, keys, updated))
    return events


def map_company(make: Any, company: Mapping[str, Any]) -> Event:
    spend = company.get("monthly_spend")
    return make(
        "customer_account.upserted",
        account_key(company["id"]),
        f"updated:{company.get('updated_at')}",
        _at(company.get("updated_at") or company.get("created_at") or 0),
        {
            "name": company.get("name") or company["id"],
            "tier": (company.get("plan") or {}).get("name"),
            "arr": float(spend) * 12 if isinstance(spend, int | float) else None,
            "domain": company.get("website"),
        },
    )
