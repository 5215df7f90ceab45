"""Zendesk tickets, their history and organizations as canonical events: pure functions.

A ticket is a customer request keyed ``zendesk-<id>``; its organization is the customer
account ``zendesk-org-<id>``. A ticket's snapshot says only what is true now: opened at its
creation (with no status — the history says which), and its current status *as of its
last update*. Each status and group change comes from the history (an audit, or an event
of the incremental ticket events export, which carry the same ids) at its own time; a
group that maps to a team is an escalation to that team. A ticket with no history
(archived, scrubbed, deleted) is therefore never shown in today's status since creation.
Jira keys found in the configured custom field or in tags link the request to work items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from connectors.linking import jira_keys, link_events
from core.events import Event, parse_utc
from core.request_text import request_text, request_title

__all__ = [
    "Change",
    "ZendeskContext",
    "account_key",
    "audit_changes",
    "event_changes",
    "map_deleted",
    "map_history",
    "map_organization",
    "map_ticket",
    "request_key",
]

MakeEvent = Callable[[str, str, str, datetime, Mapping[str, Any]], Event]
CLOSED = {"solved", "closed", "deleted"}
_TRACKED = ("status", "group_id")


class Change(NamedTuple):
    """One field change in a ticket's history, whichever endpoint reported it."""

    id: Any
    ticket_id: Any
    at: datetime
    field: str
    value: Any
    previous: Any


def request_key(ticket_id: Any) -> str:
    return f"zendesk-{ticket_id}"


def account_key(org_id: Any) -> str:
    return f"zendesk-org-{org_id}"


@dataclass(frozen=True)
class ZendeskContext:
    make: MakeEvent
    base_url: str
    group_teams: Mapping[str, str] = field(default_factory=dict)
    tag_teams: Mapping[str, str] = field(default_factory=dict)
    assignee_teams: Mapping[str, str] = field(default_factory=dict)
    jira_field: str | None = None  # custom field id holding Jira keys
    jira_tag_prefix: str | None = None  # e.g. "jira_" in tags like "jira_pay-12"

    def team_of(self, ticket: Mapping[str, Any]) -> str | None:
        group = ticket.get("group_id")
        if group is not None and str(group) in self.group_teams:
            return self.group_teams[str(group)]
        assignee = ticket.get("assignee_id")
        if assignee is not None and str(assignee) in self.assignee_teams:
            return self.assignee_teams[str(assignee)]
        for tag in ticket.get("tags") or []:
            if tag in self.tag_teams:
                return self.tag_teams[tag]
        return None


def jira_keys_of(ticket: Mapping[str, Any], ctx: ZendeskContext) -> list[str]:
    texts = [
        c.get("value")
        for c in ticket.get("custom_fields") or []
        if ctx.jira_field and str(c.get("id")) == ctx.jira_field
    ]
    return jira_keys(texts, ticket.get("tags") or [], ctx.jira_tag_prefix)


def map_ticket(ticket: Mapping[str, Any], ctx: ZendeskContext) -> list[Event]:
    """What the ticket itself says: opened, its status as of its last update, its links."""
    key = request_key(ticket["id"])
    created = parse_utc(ticket["created_at"])
    updated = parse_utc(ticket.get("updated_at") or ticket["created_at"])
    org = ticket.get("organization_id")
    snapshot = {
        "title": request_title(ticket.get("subject")),
        # the description is the ticket's first comment: what the customer wrote
        "text": request_text(ticket.get("subject"), ticket.get("description")),
        "account": account_key(org) if org else None,
        "priority": ticket.get("priority"),
        "status": None,  # at creation: the history's first status says
        "channel": (ticket.get("via") or {}).get("channel"),
        "team": ctx.team_of(ticket),
        "url": f"{ctx.base_url.rstrip('/')}/agent/tickets/{ticket['id']}",
        "attributes": {
            k: ticket[k]
            for k in ("type", "tags", "external_id", "group_id", "assignee_id", "custom_fields")
            if ticket.get(k)
        },
    }
    events = [ctx.make("customer_request.opened", key, "opened", created, snapshot)]
    current = ticket.get("status")
    stamp = ticket.get("updated_at") or ticket["created_at"]
    if current:
        events.append(
            ctx.make(
                "customer_request.status_changed",
                key,
                f"status:{current}:{stamp}",
                updated,
                {"from_status": None, "to_status": current},
            )
        )
    if current in CLOSED:
        events.append(
            ctx.make(
                "customer_request.closed",
                key,
                f"closed:{current}:{stamp}",
                updated,
                {"resolution": current},
            )
        )
    events.extend(
        link_events(ctx.make, "customer_request.linked", key, jira_keys_of(ticket, ctx), updated)
    )
    return events


def map_deleted(ticket_id: Any, at: datetime, ctx: ZendeskContext) -> list[Event]:
    """A ticket whose history answers 404: deleted since it was listed; it closes so."""
    return [
        ctx.make(
            "customer_request.closed",
            request_key(ticket_id),
            "deleted",
            at,
            {"resolution": "deleted"},
        )
    ]


def audit_changes(audit: Mapping[str, Any]) -> Iterator[Change]:
    """The tracked changes in one audit of ``/tickets/{id}/audits``."""
    at = parse_utc(audit["created_at"])
    for child in audit.get("events") or []:
        name = child.get("field_name")
        if child.get("type") in ("Create", "Change") and name in _TRACKED:
            yield Change(
                child["id"],
                audit["ticket_id"],
                at,
                name,
                child.get("value"),
                child.get("previous_value"),
            )


def event_changes(ticket_event: Mapping[str, Any]) -> Iterator[Change]:
    """The tracked changes in one event of the incremental ticket events export.

    Its child events name the changed field as a key (``"status": "solved"``) with
    ``previous_value``; ``field_name``/``value``, as in audits, is read too.
    """
    if ticket_event.get("created_at"):
        at = parse_utc(ticket_event["created_at"])
    else:
        at = datetime.fromtimestamp(int(ticket_event["timestamp"]), UTC)
    for child in ticket_event.get("child_events") or []:
        if child.get("event_type") not in ("Create", "Change"):
            continue
        names = [child["field_name"]] if child.get("field_name") else list(_TRACKED)
        for name in names:
            if name not in _TRACKED:
                continue
            value = child.get("value") if child.get("field_name") else child.get(name)
            if value is None and name not in child:
                continue
            yield Change(
                child["id"],
                ticket_event["ticket_id"],
                at,
                name,
                value,
                child.get("previous_value"),
            )


def map_history(changes: Iterable[Change], ctx: ZendeskContext) -> list[Event]:
    """Status changes, closures and escalations, each at the time it happened."""
    events = []
    for change in changes:
        key = request_key(change.ticket_id)
        if change.field == "status" and change.value:
            events.append(
                ctx.make(
                    "customer_request.status_changed",
                    key,
                    f"audit:{change.id}",
                    change.at,
                    {"from_status": change.previous or None, "to_status": change.value},
                )
            )
            if change.value in CLOSED:
                events.append(
                    ctx.make(
                        "customer_request.closed",
                        key,
                        f"audit:{change.id}:closed",
                        change.at,
                        {"resolution": change.value},
                    )
                )
        elif change.field == "group_id" and str(change.value) in ctx.group_teams:
            events.append(
                ctx.make(
                    "customer_request.escalated",
                    key,
                    f"audit:{change.id}",
                    change.at,
                    {"team": ctx.group_teams[str(change.value)]},
                )
            )
    return events


def map_organization(
    org: Mapping[str, Any], ctx: ZendeskContext, arr_field: str | None, tier_field: str | None
) -> Event:
    fields = org.get("organization_fields") or {}
    arr = fields.get(arr_field) if arr_field else None
    return ctx.make(
        "customer_account.upserted",
        account_key(org["id"]),
        f"updated:{org.get('updated_at')}",
        parse_utc(org.get("updated_at") or org["created_at"]),
        {
            "name": org.get("name") or f"Organization {org['id']}",
            "tier": fields.get(tier_field) if tier_field else None,
            "arr": float(arr)
            if isinstance(arr, int | float | str) and str(arr).replace(".", "", 1).isdigit()
            else None,
            "domain": (org.get("domain_names") or [None])[0],
        },
    )
