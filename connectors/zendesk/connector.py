"""The Zendesk connector: incremental exports for tickets, their history and accounts.

The ticket export's first request asks for ``start_time`` (kept at least a minute in the
past, as Zendesk requires); from then on only ``cursor`` is sent, never ``start_time``
again, and pages are followed until ``end_of_stream``. An empty page does not mean the end.

Status history and organizations come from the time-based incremental exports (ticket
events, organizations), each with its own ``start_time`` in the cursor: a thousand changed
tickets cost a few pages instead of a thousand audit requests. Those exports need an admin;
with ``admin_exports: false`` the connector reads each changed ticket's audits and its
organization instead. A ticket whose audits answer 404 was deleted meanwhile: it closes as
deleted and the sync goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from connectors.base import Connector, ConnectorSettings, Cursor, FieldProblem, Page, Reject
from connectors.webhooks import verify_zendesk
from connectors.zendesk.mapping import (
    ZendeskContext,
    audit_changes,
    event_changes,
    map_deleted,
    map_history,
    map_organization,
    map_ticket,
)
from connectors.zendesk.streams import AUDITS, ORGANIZATIONS, TICKET_EVENTS, TICKETS
from core.events import Event, parse_utc
from core.http import HttpClient, HttpError
from core.secrets import SecretRef

__all__ = ["ZendeskConnector", "ZendeskSettings"]


class ZendeskSettings(ConnectorSettings):
    base_url: str = Field(pattern=r"^https?://", description="https://<subdomain>.zendesk.com")
    email: str | None = Field(default=None, description="With api_token: email/token auth.")
    api_token: SecretRef | None = None
    oauth_token: SecretRef | None = Field(default=None, description="Instead of email/api_token.")
    start_date: date | None = Field(
        default=None,
        description="How far back a first backfill of history goes (accounts are read whole).",
    )
    group_teams: dict[str, str] = Field(default_factory=dict, description="Group id -> team.")
    tag_teams: dict[str, str] = Field(default_factory=dict, description="Tag -> team.")
    assignee_teams: dict[str, str] = Field(default_factory=dict, description="Agent id -> team.")
    jira_field: str | None = Field(default=None, description="Custom field id holding Jira keys.")
    jira_tag_prefix: str | None = Field(default=None, description="Tags like <prefix>PAY-12.")
    arr_field: str | None = Field(default=None, description="Organization field holding ARR.")
    tier_field: str | None = None
    webhook_secret: SecretRef | None = None
    page_size: int = Field(default=100, ge=1, le=1000)
    admin_exports: bool = Field(
        default=True,
        description=(
            "Read history and organizations from the incremental exports (an admin's "
            "token); false: one audits request per changed ticket, for agent tokens."
        ),
    )

    @model_validator(mode="after")
    def _one_auth(self) -> ZendeskSettings:
        if not self.oauth_token and not (self.email and self.api_token):
            raise ValueError("needs email and api_token, or oauth_token")
        return self


class ZendeskConnector(Connector):
    type_name = "zendesk"
    system = "zendesk"
    settings_model = ZendeskSettings
    supports_webhooks = True
    settings: ZendeskSettings

    def client(self) -> HttpClient:
        s = self.settings
        if s.oauth_token:
            return self.http(
                s.base_url,
                headers={"Authorization": f"Bearer {self.secrets.resolve(s.oauth_token)}"},
            )
        assert s.email and s.api_token
        return self.http(s.base_url, auth=(f"{s.email}/token", self.secrets.resolve(s.api_token)))

    def _context(self) -> ZendeskContext:
        s = self.settings
        return ZendeskContext(
            self.event,
            s.base_url,
            s.group_teams,
            s.tag_teams,
            s.assignee_teams,
            s.jira_field,
            s.jira_tag_prefix,
        )

    def _history(self, client: HttpClient, ticket: Mapping[str, Any]) -> list[Event]:
        """One ticket's history from its audits; deleted meanwhile (404): closed so."""
        context = self._context()
        try:
            audits = AUDITS.records(client, path_args={"ticket": ticket["id"]})
        except HttpError as exc:
            if exc.status != 404:
                raise
            at = parse_utc(ticket.get("updated_at") or ticket["created_at"])
            return map_deleted(ticket["id"], at, context)
        return map_history((c for a in audits for c in audit_changes(a)), context)

    def _organizations(self, client: HttpClient, ids: set[Any]) -> list[dict[str, Any]]:
        orgs: list[dict[str, Any]] = []
        ordered = sorted(ids)
        for start in range(0, len(ordered), 100):
            chunk = ",".join(str(i) for i in ordered[start : start + 100])
            orgs.extend(
                client.get_json("/api/v2/organizations/show_many.json", params={"ids": chunk}).get(
                    "organizations"
                )
                or []
            )
        return orgs

    def _since(self, *, whole: bool = False) -> int:
        """The first backfill's ``start_time``: the configured start, a minute old at least.

        ``whole`` is for reference data (organizations): every customer account counts for
        demand, however long ago it last changed, so ``start_date`` does not bound it."""
        start = None if whole else self.settings.start_date
        since = (
            datetime.combine(start, datetime.min.time(), UTC)
            if start
            else datetime(1970, 1, 2, tzinfo=UTC)
        )
        return int(min(since, datetime.now(UTC) - timedelta(seconds=60)).timestamp())

    def _export(
        self, client: HttpClient, stream: Any, cursor: Cursor, name: str, *, whole: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """A time-based export from ``cursor[name]``, moving it to each page's ``end_time``.

        Zendesk serves nothing newer than a minute: a cursor inside the last minute waits
        for the next sync rather than re-reading that minute on every poll."""
        start = int(cursor.get(name) or self._since(whole=whole))
        if start > time.time() - 60:
            return
        params = {"start_time": start}
        for body, records in stream.pages(client, params):
            if body.get("end_time"):
                cursor[name] = int(body["end_time"])
            yield records

    def pull(self, cursor: Cursor | None) -> Iterator[Page]:
        client, context = self.client(), self._context()
        cursor = dict(cursor or {})
        admin = self.settings.admin_exports
        s = self.settings
        if admin:
            for orgs in self._export(
                client, ORGANIZATIONS, cursor, "organizations_since", whole=True
            ):
                events = [map_organization(o, context, s.arr_field, s.tier_field) for o in orgs]
                yield Page(events, dict(cursor))
        resume = cursor.get("after_cursor")  # never start_time again
        params = {"per_page": s.page_size, "start_time": self._since()}
        for body, tickets in TICKETS.pages(client, params, start=resume):
            events, rejects, org_ids = [], [], set()
            for ticket in tickets:
                try:
                    events.extend(map_ticket(ticket, context))
                    if not admin:
                        events.extend(self._history(client, ticket))
                    if ticket.get("organization_id"):
                        org_ids.add(ticket["organization_id"])
                except (KeyError, TypeError, ValueError) as exc:
                    rejects.append(
                        Reject(ticket, f"cannot map ticket {ticket.get('id')!r}: {exc!r}")
                    )
            if not admin:
                for org in self._organizations(client, org_ids):
                    events.append(map_organization(org, context, s.arr_field, s.tier_field))
            resume = body.get("after_cursor") or resume
            cursor["after_cursor"] = resume
            yield Page(events, dict(cursor), rejects)
        if admin:
            for ticket_events in self._export(client, TICKET_EVENTS, cursor, "events_since"):
                events, rejects = [], []
                for ticket_event in ticket_events:
                    try:
                        events.extend(map_history(event_changes(ticket_event), context))
                    except (KeyError, TypeError, ValueError) as exc:
                        rejects.append(Reject(ticket_event, f"cannot map ticket event: {exc!r}"))
                yield Page(events, dict(cursor), rejects)

    def check(self) -> list[FieldProblem]:
        credential = "settings.oauth_token" if self.settings.oauth_token else "settings.api_token"
        client, problems = self.probe(credential, "/api/v2/users/me.json")
        if client is None or not self.settings.admin_exports:
            return problems
        try:  # the exports answer 403 to an agent's token: say so before the first sync
            since = int(time.time()) - 3600
            client.get_json("/api/v2/incremental/organizations.json", params={"start_time": since})
        except HttpError as exc:
            if exc.status != 403:
                raise
            return [
                FieldProblem(
                    "settings.admin_exports",
                    "the incremental exports need an admin's token; "
                    "use one, or set admin_exports: false to read each ticket's audits",
                )
            ]
        return []

    def verify_webhook(self, method: str, uri: str, headers: Mapping[str, str], body: bytes) -> str:
        return verify_zendesk(self.webhook_secret(), headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Page:
        """A ticket webhook names the ticket; its state and audits are read back from Zendesk."""
        try:
            payload = json.loads(body)
            ticket_id = (payload.get("detail") or payload.get("ticket") or payload)["id"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return Page(
                [],
                {},
                [Reject(body.decode(errors="replace"), f"not a Zendesk ticket webhook: {exc!r}")],
            )
        client = self.client()
        try:
            ticket = client.get_json(f"/api/v2/tickets/{ticket_id}.json")["ticket"]
        except HttpError as exc:
            if exc.status != 404:
                raise
            return Page(map_deleted(ticket_id, datetime.now(UTC), self._context()), {})
        return Page([*map_ticket(ticket, self._context()), *self._history(client, ticket)], {})
