"""The Zendesk connector: the incremental cursor export, audits for history, and webhooks.

The first sync asks for ``start_time`` (kept at least a minute in the past, as Zendesk
requires); from then on only ``cursor`` is sent, never ``start_time`` again, and pages are
followed until ``end_of_stream``. An empty page does not mean the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from connectors.base import Connector, ConnectorSettings, Cursor, FieldProblem, Page, Reject
from connectors.webhooks import verify_zendesk
from connectors.zendesk.mapping import ZendeskContext, map_organization, map_ticket
from connectors.zendesk.streams import AUDITS, TICKETS
from core.http import HttpClient
from core.secrets import SecretRef

__all__ = ["ZendeskConnector", "ZendeskSettings"]


class ZendeskSettings(ConnectorSettings):
    base_url: str = Field(pattern=r"^https?://", description="https://<subdomain>.zendesk.com")
    email: str | None = Field(default=None, description="With api_token: email/token auth.")
    api_token: SecretRef | None = None
    oauth_token: SecretRef | None = Field(default=None, description="Instead of email/api_token.")
    start_date: date | None = None
    group_teams: dict[str, str] = Field(default_factory=dict, description="Group id -> team.")
    tag_teams: dict[str, str] = Field(default_factory=dict, description="Tag -> team.")
    assignee_teams: dict[str, str] = Field(default_factory=dict, description="Agent id -> team.")
    jira_field: str | None = Field(default=None, description="Custom field id holding Jira keys.")
    jira_tag_prefix: str | None = Field(default=None, description="Tags like <prefix>PAY-12.")
    arr_field: str | None = Field(default=None, description="Organization field holding ARR.")
    tier_field: str | None = None
    webhook_secret: SecretRef | None = None
    page_size: int = Field(default=100, ge=1, le=1000)

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

    def _audits(self, client: HttpClient, ticket_id: Any) -> list[dict[str, Any]]:
        return AUDITS.records(client, path_args={"ticket": ticket_id})

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

    def pull(self, cursor: Cursor | None) -> Iterator[Page]:
        client, context = self.client(), self._context()
        resume = (cursor or {}).get("after_cursor")  # never start_time again
        start = self.settings.start_date
        since = (
            datetime.combine(start, datetime.min.time(), UTC)
            if start
            else datetime(1970, 1, 2, tzinfo=UTC)
        )
        since = min(since, datetime.now(UTC) - timedelta(seconds=60))
        params = {"per_page": self.settings.page_size, "start_time": int(since.timestamp())}
        for body, tickets in TICKETS.pages(client, params, start=resume):
            events, rejects, org_ids = [], [], set()
            for ticket in tickets:
                try:
                    events.extend(map_ticket(ticket, self._audits(client, ticket["id"]), context))
                    if ticket.get("organization_id"):
                        org_ids.add(ticket["organization_id"])
                except (KeyError, TypeError, ValueError) as exc:
                    rejects.append(
                        Reject(ticket, f"cannot map ticket {ticket.get('id')!r}: {exc!r}")
                    )
            for org in self._organizations(client, org_ids):
                events.append(
                    map_organization(
                        org, context, self.settings.arr_field, self.settings.tier_field
                    )
                )
            resume = body.get("after_cursor") or resume
            yield Page(events, {"after_cursor": resume}, rejects)

    def check(self) -> list[FieldProblem]:
        credential = "settings.oauth_token" if self.settings.oauth_token else "settings.api_token"
        return self.probe(credential, "/api/v2/users/me.json")[1]

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
        ticket = client.get_json(f"/api/v2/tickets/{ticket_id}.json")["ticket"]
        return Page(map_ticket(ticket, self._audits(client, ticket_id), self._context()), {})
