"""Intercom conversations and companies as canonical events. Pure: no HTTP, testable on
recorded payloads. State changes come from the conversation's own statistics (first and
last close) or, when it has none, from its parts; its current state is stated as of its
last update, never from its creation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.linking import jira_keys, link_events
from core.events import Event
from core.request_text import request_text, request_title

__all__ = [
    "IntercomMapping",
    "account_key",
    "map_company",
    "map_conversation",
    "map_deleted",
    "request_key",
]


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


# part types that move a conversation's state, and the state they leave it in
PART_STATES = {"close": "closed", "open": "open", "snoozed": "snoozed", "unsnoozed": "open"}


def map_conversation(
    make: Any,
    conversation: Mapping[str, Any],
    account: str | None,
    settings: IntercomMapping,
    parts: Sequence[Mapping[str, Any]] | None = None,
) -> list[Event]:
    """Opened, each state change the source shows at its own time, and the state as of the
    last update. The changes come from the statistics (first and last close) or, when a
    conversation has none, from its parts (``close``, ``open``, ``snoozed``...)."""
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
    subject = conversation.get("title") or source.get("subject") or None
    events = [
        make(
            "customer_request.opened",
            key,
            "opened",
            created,
            {
                "title": request_title(subject),
                # the source is the message that opened the conversation (HTML)
                "text": request_text(subject, source.get("body")),
                "account": account,
                "priority": conversation.get("priority"),
                "status": None,  # the history (statistics or parts) says when it changed
                "channel": source.get("delivered_as"),
                "team": team,
                "attributes": {"tags": tags} if tags else {},
            },
        )
    ]
    stats = conversation.get("statistics") or {}
    closes: list[int] = []
    if parts is not None:
        for part in sorted(parts, key=lambda p: (int(p["created_at"]), str(p.get("id")))):
            moved_to = PART_STATES.get(str(part.get("part_type")))
            if moved_to is None:
                continue
            if moved_to == "closed":
                closes.append(int(part["created_at"]))
            events.append(
                make(
                    "customer_request.status_changed",
                    key,
                    f"part:{part.get('id')}",
                    _at(part["created_at"]),
                    {"to_status": moved_to},
                )
            )
    else:
        for name in ("first_close_at", "last_close_at"):
            stamp = stats.get(name)
            if stamp and stamp not in closes:
                closes.append(int(stamp))
                change = "first_close" if name == "first_close_at" else f"close:{stamp}"
                events.append(
                    make(
                        "customer_request.status_changed",
                        key,
                        change,
                        _at(stamp),
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
        last_close = closes[-1] if closes else None
        closed_at = _at(last_close or conversation["updated_at"])
        events.append(
            make(
                "customer_request.closed",
                key,
                f"closed:{last_close}",
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


def map_deleted(make: Any, conversation: Mapping[str, Any]) -> list[Event]:
    """A conversation that answers 404 when read back was deleted: it closes so."""
    return [
        make(
            "customer_request.closed",
            request_key(conversation["id"]),
            "deleted",
            _at(conversation["updated_at"]),
            {"resolution": "deleted"},
        )
    ]


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
