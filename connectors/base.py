"""What a connector is: a config model, a ``pull`` that yields pages, optional webhooks.

A connector maps one source's API to canonical events and never touches Kafka. The
runtime produces each page's events, waits for the broker's acknowledgement, and only then
stores the page's cursor: a crash between the two re-pulls the page, and the events' ids,
derived from the source's own change ids, make the repeat harmless.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import requests
from pydantic import BaseModel, ConfigDict, Field

from core.errors import ConfigError, FatalError, HubError
from core.events import EVENT_TYPES, EntityRef, Event, Source, make_event_id
from core.http import HttpClient, HttpError, RetryPolicy, TokenBucket
from core.secrets import SecretResolver
from core.validation import FieldProblem

__all__ = ["Connector", "ConnectorSettings", "Page", "Reject", "FieldProblem", "Cursor"]

Cursor = dict[str, Any]


class ConnectorSettings(BaseModel):
    """Base of every connector type's settings: strict, with a request budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_second: float = Field(default=5.0, gt=0, description="Request budget.")
    page_size: int = Field(default=100, ge=1, le=1000)
    request_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds to wait for one answer before retrying."
    )


@dataclass(frozen=True)
class Reject:
    """A source record the connector could not map; it goes to the dead-letter topic."""

    raw: Any
    error: str


@dataclass
class Page:
    """Events to produce, the cursor to commit after them, records that could not be
    mapped, and warnings: what the source did that people should know about although the
    sync went on (a custom field that vanished, a window the source would not cover)."""

    events: list[Event]
    cursor: Cursor
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Connector(ABC):
    """Subclasses set ``type_name``, ``system``, ``settings_model`` and implement ``pull``."""

    type_name: ClassVar[str]
    system: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]]
    supports_webhooks: ClassVar[bool] = False

    def __init__(self, name: str, settings: ConnectorSettings, secrets: SecretResolver) -> None:
        self.sleep: Callable[[float], None] = time.sleep  # the runtime makes it interruptible
        self.name = name
        self.settings = settings
        self.secrets = secrets
        self.source = Source(system=self.system, connector=name)

    def http(self, base_url: str, **kwargs: Any) -> HttpClient:
        bucket = TokenBucket(
            self.settings.requests_per_second,
            burst=max(1, int(self.settings.requests_per_second)),
            sleep=self.sleep,
        )
        return HttpClient(
            base_url=base_url,
            bucket=bucket,
            policy=RetryPolicy(timeout=self.settings.request_timeout),
            sleep=self.sleep,
            **kwargs,
        )

    def event(
        self,
        type_: str,
        key: str,
        change_id: str,
        occurred_at: datetime,
        payload: Mapping[str, Any],
    ) -> Event:
        """A canonical event whose id is derived from the source's own change id."""
        kind = type_.partition(".")[0]
        model = EVENT_TYPES[type_]
        return model(  # type: ignore[return-value,call-arg]
            event_id=make_event_id(self.name, kind, key, change_id, type_),
            source=self.source,
            entity=EntityRef(kind=kind, key=key),  # type: ignore[arg-type]
            occurred_at=occurred_at,
            payload=payload,
        )

    @abstractmethod
    def client(self) -> HttpClient:
        """The shared HTTP client, authenticated for this source (secrets resolved here)."""

    def probe(
        self, credential: str, path: str, *, url_field: str = "settings.base_url", **kwargs: Any
    ) -> tuple[HttpClient | None, list[FieldProblem]]:
        """Resolve credentials and make one request; each problem names the field to fix."""
        try:
            client = self.client()
        except ConfigError as exc:
            return None, [FieldProblem(credential, str(exc))]
        except requests.RequestException as exc:
            return None, [FieldProblem(url_field, f"cannot reach {self.system}: {exc}")]
        try:
            client.get_json(path, **kwargs)
        except HttpError as exc:
            field = credential if exc.status in (401, 403) else url_field
            return None, [FieldProblem(field, str(exc))]
        except (HubError, requests.RequestException) as exc:
            return None, [FieldProblem(url_field, f"cannot reach {self.system}: {exc}")]
        return client, []

    @abstractmethod
    def pull(self, cursor: Cursor | None) -> Iterator[Page]:
        """Pages of events changed since ``cursor`` (None: a first backfill), oldest first."""

    @abstractmethod
    def check(self) -> list[FieldProblem]:
        """A live check against the source: credentials, permissions, configured scope."""

    def verify_webhook(self, method: str, uri: str, headers: Mapping[str, str], body: bytes) -> str:
        """The delivery's signature; raises ``WebhookRejected`` unless authentic and fresh."""
        raise FatalError(f"connector type {self.type_name} does not accept webhooks")

    def webhook_secret(self) -> str:
        """The resolved ``webhook_secret`` setting; no setting means webhooks are refused."""
        from connectors.webhooks import WebhookRejected

        reference = getattr(self.settings, "webhook_secret", None)
        if reference is None:
            raise WebhookRejected("webhooks are not enabled for this connector (no webhook_secret)")
        return self.secrets.resolve(reference)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Page:
        raise FatalError(f"connector type {self.type_name} does not accept webhooks")
