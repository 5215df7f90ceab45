"""Zendesk tickets and audits to canonical events: pure functions, tested on the samples.

A ticket is a customer request keyed ``zendesk-<id>``; its organization is the customer
account ``zendesk-org-<id>``. The audit trail gives each status and group change its real
time; a group that maps to a team is an escalation to that team. Jira keys found in the
configured custom field or in tags link the request to work items.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.linking import jira_keys, link_events
from core.events import Event, parse_utc

__all__ = ["ZendeskContext", "map_ticket", "map_organization", "request_key", "account_key"]

MakeEvent = Callable[[str, str, str, datetime, Mapping[str, Any]], Event]
CLOSED = {"solved", "closed", "deleted"}


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


def map_ticket(
    ticket: Mapping[str, Any], audits: Sequence[Mapping[str, Any]], ctx: ZendeskContext
) -> list[Event]:
    key = request_key(ticket["id"])
    created = parse_utc(ticket["created_at"])
    org = ticket.get("organization_id")
    snapshot = {
        "title": ticket.get("subject"),
        "account": account_key(org) if org else None,
        "priority": ticket.get("priority"),
        "status": ticket.get("status"),
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
    status = None
    saw_status = False
    for audit in sorted(audits, key=lambda a: (a["created_at"], a["id"])):
        at = parse_utc(audit["created_at"])
        for change in audit.get("events") or []:
            name = change.get("field_name")
            if change.get("type") not in ("Create", "Change") or name not in ("status", "group_id"):
                continue
            value = change.get("value")
            if name == "status" and value:
                saw_status = True
                events.append(
                    ctx.make(
                        "customer_request.status_changed",
                        key,
                        f"audit:{change['id']}",
                        at,
                        {"from_status": change.get("previous_value") or status, "to_status": value},
                    )
                )
                if value in CLOSED and (status not in CLOSED or value == "deleted"):
                    events.append(
                        ctx.make(
                            "customer_request.closed",
                            key,
                            f"audit:{change['id']}:closed",
                            at,
                            {"resolution": value},
                        )
                    )
                status = value
            elif name == "group_id" and value is not None and str(value) in ctx.group_teams:
                events.append(
                    ctx.make(
                        "customer_request.escalated",
                        key,
                        f"audit:{change['id']}",
                        at,
                        {"team": ctx.group_teams[str(value)]},
                    )
                )
    updated = parse_utc(ticket.get("updated_at") or ticket["created_at"])
    current = ticket.get("status")
    if current and not saw_status:
        # no audit trail (e.g. an archived ticket): the current status is all we know
        events.append(
            ctx.make(
                "customer_request.status_changed",
                key,
                f"status:{current}",
                created,
                {"from_status": None, "to_status": current},
            )
        )
    if current in CLOSED and (status not in CLOSED or not saw_status):
        events.append(
            ctx.make(
                "customer_request.closed",
                key,
                f"closed:{current}",
                updated,
                {"resolution": current},
            )
        )
    events.extend(
        link_events(ctx.make, "customer_request.linked", key, jira_keys_of(ticket, ctx), updated)
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
