"""``canonical_http``: any service that already speaks the hub's event vocabulary.

For in-house tools and scripts: the source serves canonical events over HTTP, oldest
first, ``GET {base_url}/events?after=<cursor>&limit=N`` answering
``{"events": [...], "next_after": "<cursor after this page>", "has_more": bool}``, and
may push the same events to ``POST /webhooks/<connector>``, signed like Jira's
(``X-Hub-Signature: sha256=...``).
Events that fail validation are dead-lettered with the reason; the rest flow on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from pydantic import Field

from connectors.base import Connector, ConnectorSettings, Cursor, FieldProblem, Page, Reject
from connectors.canonical_http.mapping import map_events
from connectors.canonical_http.streams import EVENTS
from connectors.webhooks import verify_hub_signature_sha256
from core.http import HttpClient
from core.secrets import SecretRef

__all__ = ["CanonicalHttpConnector", "CanonicalHttpSettings"]


class CanonicalHttpSettings(ConnectorSettings):
    base_url: str = Field(pattern=r"^https?://", description="Where /events is served.")
    token: SecretRef = Field(description="Bearer token, as ${env:NAME} or ${file:/path}.")
    webhook_secret: SecretRef | None = None


class CanonicalHttpConnector(Connector):
    type_name = "canonical_http"
    system = "custom"
    settings_model = CanonicalHttpSettings
    supports_webhooks = True
    settings: CanonicalHttpSettings

    def client(self) -> HttpClient:
        token = self.secrets.resolve(self.settings.token)
        return self.http(self.settings.base_url, headers={"Authorization": f"Bearer {token}"})

    def pull(self, cursor: Cursor | None) -> Iterator[Page]:
        client = self.client()
        after = (cursor or {}).get("after")
        params = {"limit": self.settings.page_size}
        for body, raws in EVENTS.pages(client, params, start=after):
            events, rejects = map_events(raws, self.name)
            after = body.get("next_after") or after
            yield Page(events, {"after": after}, rejects)

    def check(self) -> list[FieldProblem]:
        return self.probe("settings.token", "/events", params={"limit": 1})[1]

    def verify_webhook(self, method: str, uri: str, headers: Mapping[str, str], body: bytes) -> str:
        return verify_hub_signature_sha256(self.webhook_secret(), headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Page:
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return Page([], {}, [Reject(body.decode(errors="replace"), f"not JSON: {exc}")])
        raws = payload.get("events", []) if isinstance(payload, dict) else []
        events, rejects = map_events(raws, self.name)
        return Page(events, {}, rejects)
