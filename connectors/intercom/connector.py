"""The Intercom connector: conversation search on ``updated_at``, companies, webhooks.

Search results are not promised in ``updated_at`` order, so a sync is a *pass*: it keeps
the lower bound it started from and the ``starting_after`` token of its next page in the
cursor, and moves the bound to the newest ``updated_at`` seen only when the pass ends. A
crash mid-pass resumes the same pass; nothing between the pages can be skipped.
State changes come from the conversation's own statistics (first and last close) and its
current state; companies come from each contact's attached companies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from pydantic import Field

from connectors.base import Connector, ConnectorSettings, Cursor, FieldProblem, Page, Reject
from connectors.http import HttpClient
from connectors.linking import jira_keys, link_events
from connectors.webhooks import verify_hub_signature_sha1
from core.events import Event
from core.secrets import SecretRef

__all__ = ["IntercomConnector", "IntercomSettings", "map_conversation", "map_company"]


class IntercomSettings(ConnectorSettings):
    base_url: str = Field(default="https://api.intercom.io", pattern=r"^https?://")
    access_token: SecretRef
    api_version: str = "2.11"
    start_date: date | None = None
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


def _at(epoch: Any) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def request_key(conversation_id: Any) -> str:
    return f"intercom-{conversation_id}"


def account_key(company_id: Any) -> str:
    return f"intercom-company-{company_id}"


def map_conversation(
    make: Any, conversation: Mapping[str, Any], account: str | None, settings: IntercomSettings
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
        while True:
            self._found_companies: list[dict[str, Any]] = []
            pagination: dict[str, Any] = {"per_page": self.settings.page_size}
            if token:
                pagination["starting_after"] = token
            body = client.post_json(
                "/conversations/search",
                {
                    "query": {"field": "updated_at", "operator": ">", "value": since},
                    "pagination": pagination,
                },
            )
            events, rejects = [], []
            for conversation in body.get("conversations") or []:
                try:
                    people = (conversation.get("contacts") or {}).get("contacts") or []
                    company = self._companies(client, people[0]["id"], contacts) if people else None
                    events.extend(
                        map_conversation(
                            self.event,
                            conversation,
                            account_key(company) if company else None,
                            self.settings,
                        )
                    )
                    newest = max(newest, int(conversation["updated_at"]))
                except (KeyError, TypeError, ValueError) as exc:
                    rejects.append(Reject(conversation, f"cannot map conversation: {exc!r}"))
            events.extend(map_company(self.event, c) for c in self._found_companies)
            token = ((body.get("pages") or {}).get("next") or {}).get("starting_after")
            if token:  # mid-pass: resume here after a crash
                yield Page(
                    events, {"since": since, "starting_after": token, "newest": newest}, rejects
                )
                continue
            yield Page(events, {"since": max(since, newest), "newest": max(since, newest)}, rejects)
            return

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
        people = (item.get("contacts") or {}).get("contacts") or []
        company = self._companies(self.client(), people[0]["id"], {}) if people else None
        return Page(
            map_conversation(
                self.event, item, account_key(company) if company else None, self.settings
            ),
            {},
        )
