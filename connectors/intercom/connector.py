"""The Intercom connector: conversation search on ``updated_at``, companies, webhooks.

Search results are not promised in ``updated_at`` order, so a sync is a *pass*: it keeps
the lower bound it started from and the ``starting_after`` token of its next page in the
cursor, and moves the bound to the newest ``updated_at`` seen only when the pass ends. A
crash mid-pass resumes the same pass; nothing between the pages can be skipped.
State changes come from the conversation's own statistics (first and last close) and its
current state. A conversation without statistics is read back whole: its ``close``,
``open`` and ``snoozed`` parts give the changes at their times, and when it has more parts
than one answer holds, the rest are paged (``conversation_parts.pages.next``). One that
answers 404 by then was deleted: it closes as deleted and the sync goes on. Companies come
from each contact's attached companies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from pydantic import Field

from connectors.base import Connector, ConnectorSettings, Cursor, FieldProblem, Page, Reject
from connectors.intercom.mapping import account_key, map_company, map_conversation, map_deleted
from connectors.intercom.streams import CONVERSATIONS, NEXT_PAGE, PARTS_NEXT
from connectors.streams import dig
from connectors.webhooks import verify_hub_signature_sha1
from core.events import Event
from core.http import HttpClient, HttpError
from core.secrets import SecretRef

__all__ = ["IntercomConnector", "IntercomSettings"]


class IntercomSettings(ConnectorSettings):
    base_url: str = Field(default="https://api.intercom.io", pattern=r"^https?://")
    access_token: SecretRef
    api_version: str = "2.11"
    start_date: date | None = Field(default=None, description="How far back a first backfill goes.")
    team_teams: dict[str, str] = Field(
        default_factory=dict, description="Intercom team id -> team."
    )
    tag_teams: dict[str, str] = Field(default_factory=dict, description="Tag name -> team.")
    admin_teams: dict[str, str] = Field(
        default_factory=dict, description="Admin (assignee) id -> team."
    )
    jira_attribute: str | None = Field(default=None, description="Custom attribute with Jira keys.")
    jira_tag_prefix: str | None = None
    webhook_secret: SecretRef | None = Field(default=None, description="The app's client secret.")
    page_size: int = Field(default=100, ge=1, le=150)


class IntercomConnector(Connector):
    type_name = "intercom"
    system = "intercom"
    settings_model = IntercomSettings
    supports_webhooks = True
    settings: IntercomSettings

    def client(self) -> HttpClient:
        token = self.secrets.resolve(self.settings.access_token)
        return self.http(
            self.settings.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Intercom-Version": self.settings.api_version,
                "Accept": "application/json",
            },
        )

    def _companies(
        self, client: HttpClient, contact_id: str, seen: dict[str, str | None]
    ) -> str | None:
        """The contact's first attached company (cached per contact within a sync)."""
        if contact_id not in seen:
            body = client.get_json(f"/contacts/{contact_id}/companies")
            companies = body.get("companies") or body.get("data") or []
            seen[contact_id] = companies[0]["id"] if companies else None
            self._found_companies.extend(companies)
        return seen[contact_id]

    def _parts(self, client: HttpClient, conversation_id: str) -> list[dict[str, Any]] | None:
        """Every part of one conversation, paged; None when it no longer exists (404)."""
        parts: list[dict[str, Any]] = []
        params: dict[str, Any] = {"display_as": "plaintext"}
        while True:
            try:
                body = client.get_json(f"/conversations/{conversation_id}", params=params)
            except HttpError as exc:
                if exc.status == 404:
                    return None
                raise
            listing = body.get("conversation_parts") or {}
            parts.extend(listing.get("conversation_parts") or [])
            token = dig(listing, PARTS_NEXT)
            if not token:
                return parts
            params = {**params, "starting_after": token}

    def _map(
        self, client: HttpClient, conversation: dict[str, Any], account: str | None
    ) -> list[Event]:
        """Statistics when the search gave them; otherwise the parts, read back."""
        if conversation.get("statistics"):
            return map_conversation(self.event, conversation, account, self.settings)
        parts = self._parts(client, str(conversation["id"]))
        events = map_conversation(self.event, conversation, account, self.settings, parts or [])
        return events if parts is not None else [*events, *map_deleted(self.event, conversation)]

    def pull(self, cursor: Cursor | None) -> Iterator[Page]:
        client = self.client()
        cursor = dict(cursor or {})
        if "since" not in cursor:
            start = self.settings.start_date
            cursor["since"] = (
                int(datetime.combine(start, datetime.min.time(), UTC).timestamp()) if start else 0
            )
        since, token, newest = (
            int(cursor["since"]),
            cursor.get("starting_after"),
            int(cursor.get("newest", 0)),
        )
        contacts: dict[str, str | None] = {}
        query = {
            "query": {"field": "updated_at", "operator": ">", "value": since},
            "pagination.per_page": self.settings.page_size,
        }
        self._found_companies: list[dict[str, Any]] = []
        for body, conversations in CONVERSATIONS.pages(client, query, start=token):
            events, rejects = [], []
            for conversation in conversations:
                try:
                    people = (conversation.get("contacts") or {}).get("contacts") or []
                    company = self._companies(client, people[0]["id"], contacts) if people else None
                    account = account_key(company) if company else None
                    events.extend(self._map(client, conversation, account))
                    newest = max(newest, int(conversation["updated_at"]))
                except (KeyError, TypeError, ValueError) as exc:
                    rejects.append(Reject(conversation, f"cannot map conversation: {exc!r}"))
            events.extend(map_company(self.event, c) for c in self._found_companies)
            self._found_companies = []
            token = dig(body, NEXT_PAGE)
            if token:  # mid-pass: resume here after a crash
                yield Page(
                    events, {"since": since, "starting_after": token, "newest": newest}, rejects
                )
            else:
                bound = max(since, newest)
                yield Page(events, {"since": bound, "newest": bound}, rejects)

    def check(self) -> list[FieldProblem]:
        return self.probe("settings.access_token", "/me")[1]

    def verify_webhook(self, method: str, uri: str, headers: Mapping[str, str], body: bytes) -> str:
        return verify_hub_signature_sha1(self.webhook_secret(), headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Page:
        """``notification_event`` with ``data.item`` a conversation: mapped like the pull path."""
        try:
            payload = json.loads(body)
            item = payload["data"]["item"]
            if item.get("type") != "conversation":
                return Page([], {})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return Page(
                [],
                {},
                [Reject(body.decode(errors="replace"), f"not an Intercom notification: {exc!r}")],
            )
        self._found_companies = []
        client = self.client()
        people = (item.get("contacts") or {}).get("contacts") or []
        company = self._companies(client, people[0]["id"], {}) if people else None
        return Page(self._map(client, item, account_key(company) if company else None), {})
