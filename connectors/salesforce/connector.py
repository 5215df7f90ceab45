"""The Salesforce connector: SOQL on SystemModstamp, stage history, deletions, token refresh.

Each object is its own stream with its own cursor, queried ``SystemModstamp >= cursor
ORDER BY SystemModstamp ASC`` and paged by ``nextRecordsUrl`` (``streams.py``); ``>=`` re-reads the
boundary record, whose event ids repeat and are ignored downstream. Stage changes come
from ``OpportunityHistory`` at the times they happened. Deletions come from
``/sobjects/{type}/deleted``. Access tokens expire: on ``401 INVALID_SESSION_ID`` the
shared client refreshes the token with the refresh token and repeats the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import Field

from connectors.base import Connector, ConnectorSettings, Cursor, FieldProblem, Page, Reject
from connectors.salesforce.mapping import account_key, case_key, deal_key, map_record
from connectors.salesforce.streams import DELETED, FIELDS, QUERY, soql, soql_time
from core.errors import ConfigError
from core.events import parse_utc
from core.http import HttpClient, HttpError
from core.secrets import SecretRef

__all__ = ["SalesforceConnector", "SalesforceSettings"]

RECYCLE_DAYS = 29  # getDeleted refuses a start more than 30 days back


class SalesforceSettings(ConnectorSettings):
    instance_url: str = Field(
        pattern=r"^https?://", description="https://<domain>.my.salesforce.com"
    )
    token_url: str = Field(
        default="https://login.salesforce.com/services/oauth2/token", pattern=r"^https?://"
    )
    client_id: str
    client_secret: SecretRef
    refresh_token: SecretRef
    api_version: str = Field(default="59.0", pattern=r"^\d+\.\d$")
    include_cases: bool = False
    arr_field: str | None = Field(
        default=None, description="Account field holding ARR, e.g. ARR__c."
    )
    tier_field: str | None = None
    link_field: str | None = Field(
        default=None, description="Opportunity field with Jira keys or roadmap ids."
    )
    start_date: date | None = Field(
        default=None,
        description="How far back a first backfill of history goes (accounts are read whole).",
    )
    link_rules: dict[str, str] = Field(
        default_factory=dict, description="Regex on the opportunity name -> roadmap id it is about."
    )


class SalesforceConnector(Connector):
    type_name = "salesforce"
    system = "salesforce"
    settings_model = SalesforceSettings
    settings: SalesforceSettings

    def _refresh(self, client: HttpClient) -> bool:
        s = self.settings
        form = {
            "grant_type": "refresh_token",
            "client_id": s.client_id,
            "client_secret": self.secrets.resolve(s.client_secret),
            "refresh_token": self.secrets.resolve(s.refresh_token),
        }
        try:  # the token endpoint through the same client: budgets, retries on 5xx and 429
            body = self.http(s.token_url).request("POST", s.token_url, data=form).json()
        except HttpError as exc:
            raise ConfigError(f"token refresh refused: {exc}") from None
        client.headers["Authorization"] = f"Bearer {body['access_token']}"
        if body.get("instance_url"):
            client.base_url = body["instance_url"]
        return True

    def client(self) -> HttpClient:
        client = self.http(self.settings.instance_url, on_unauthorized=self._refresh)
        self._refresh(client)
        return client

    @property
    def _base(self) -> str:
        return f"/services/data/v{self.settings.api_version}"

    def _fields(self, stream: str) -> list[str]:
        extra = {
            "Account": [self.settings.arr_field, self.settings.tier_field],
            "Opportunity": [self.settings.link_field],
        }.get(stream, [])
        return [*FIELDS[stream], *(f for f in extra if f)]

    def _records(
        self, client: HttpClient, stream: str, since: datetime
    ) -> Iterator[list[dict[str, Any]]]:
        query = {"q": soql(stream, self._fields(stream), since)}
        version = {"version": self.settings.api_version}
        for _, records in QUERY.pages(client, query, path_args=version):
            yield records

    def _start(self, stream: str) -> datetime:
        """Where a first backfill of ``stream`` starts: ``start_date`` bounds history, but
        accounts are read whole, since demand weighs every account however long unchanged."""
        start = None if stream == "Account" else self.settings.start_date
        return (
            datetime.combine(start, datetime.min.time(), UTC)
            if start
            else datetime(2000, 1, 1, tzinfo=UTC)
        )

    def pull(self, cursor: Cursor | None) -> Iterator[Page]:
        client = self.client()
        cursor = {k: v for k, v in (cursor or {}).items()}
        streams = [
            "Account",
            "Opportunity",
            "OpportunityHistory",
            *(["Case"] if self.settings.include_cases else []),
        ]
        for stream in streams:
            since = (
                datetime.fromisoformat(cursor[stream]) if stream in cursor else self._start(stream)
            )
            for records in self._records(client, stream, since):
                events, rejects = [], []
                for record in records:
                    try:
                        events.extend(map_record(self.event, stream, record, self.settings))
                        since = max(since, parse_utc(record["SystemModstamp"]))
                    except (KeyError, TypeError, ValueError) as exc:
                        rejects.append(
                            Reject(record, f"cannot map {stream} {record.get('Id')!r}: {exc!r}")
                        )
                cursor[stream] = since.isoformat()
                yield Page(events, dict(cursor), rejects)
        yield from self._deletions(client, cursor)

    def _deletions(self, client: HttpClient, cursor: Cursor) -> Iterator[Page]:
        """getDeleted per object, each window continuing from the ``latestDateCovered`` the
        last answer gave (Salesforce covers whole minutes and lags behind the clock, so a
        window ending "now" would skip what it had not covered yet)."""
        now = datetime.now(UTC).replace(microsecond=0)
        oldest = now - timedelta(days=RECYCLE_DAYS)
        gone = {"reason": "deleted in Salesforce"}
        objects = [
            ("Account", "customer_account.deleted", account_key, gone),
            ("Opportunity", "deal.deleted", deal_key, gone),
        ]
        if self.settings.include_cases:
            objects.append(("Case", "customer_request.closed", case_key, {"resolution": "deleted"}))
        legacy = cursor.pop("deleted", None)  # one shared window, before each had its own
        for stream, type_, key_of, payload in objects:
            name = f"deleted:{stream}"
            since = cursor.get(name) or legacy
            start = datetime.fromisoformat(since) if since else now - timedelta(days=14)
            warnings = []
            if start < oldest:
                warnings.append(
                    f"{stream} deletions before {soql_time(oldest)} are no longer available "
                    f"from Salesforce; some may have been missed"
                )
                start = oldest
            if now - start < timedelta(minutes=1):
                continue
            window = {"start": soql_time(start), "end": soql_time(now)}
            path_args = {"version": self.settings.api_version, "sobject": stream}
            events, covered = [], None
            for body, records in DELETED.pages(client, window, path_args=path_args):
                if body.get("latestDateCovered"):
                    covered = parse_utc(body["latestDateCovered"])
                for record in records:
                    at = parse_utc(record["deletedDate"])
                    events.append(self.event(type_, key_of(record["id"]), "deleted", at, payload))
            cursor[name] = max(start, covered or start).isoformat()
            yield Page(events, dict(cursor), warnings=warnings)

    def check(self) -> list[FieldProblem]:
        return self.probe(
            "settings.refresh_token", f"{self._base}/limits", url_field="settings.instance_url"
        )[1]
