"""The Salesforce connector: SOQL on SystemModstamp, stage history, deletions, token refresh.

Each object is its own stream with its own cursor, queried ``SystemModstamp >= cursor
ORDER BY SystemModstamp ASC`` and paged by ``nextRecordsUrl``; ``>=`` re-reads the
boundary record, whose event ids repeat and are ignored downstream. Stage changes come
from ``OpportunityHistory`` at the times they happened. Deletions come from
``/sobjects/{type}/deleted``. Access tokens expire: on ``401 INVALID_SESSION_ID`` the
shared client refreshes the token with the refresh token and repeats the request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from pydantic import Field

from connectors.base import Connector, ConnectorSettings, Cursor, FieldProblem, Page, Reject
from connectors.http import HttpClient
from connectors.linking import field_link_events, rule_targets
from core.errors import ConfigError
from core.events import Event, parse_utc
from core.secrets import SecretRef

__all__ = ["SalesforceConnector", "SalesforceSettings", "soql_time", "STREAMS"]

# object -> fields read; the cursor column is SystemModstamp except where noted
STREAMS: dict[str, list[str]] = {
    "Account": ["Id", "Name", "Website", "SystemModstamp", "CreatedDate"],
    "Opportunity": [
        "Id",
        "Name",
        "AccountId",
        "StageName",
        "Amount",
        "CloseDate",
        "IsClosed",
        "IsWon",
        "CreatedDate",
        "SystemModstamp",
    ],
    "OpportunityHistory": ["Id", "OpportunityId", "StageName", "CreatedDate", "SystemModstamp"],
    "Case": [
        "Id",
        "Subject",
        "Status",
        "Priority",
        "AccountId",
        "IsClosed",
        "ClosedDate",
        "CreatedDate",
        "SystemModstamp",
        "Origin",
    ],
}


def soql_time(moment: datetime) -> str:
    """SOQL datetime literal: unquoted, UTC, ``2026-05-01T07:25:37Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    start_date: date | None = None
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
        response = requests.post(
            s.token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": s.client_id,
                "client_secret": self.secrets.resolve(s.client_secret),
                "refresh_token": self.secrets.resolve(s.refresh_token),
            },
            timeout=30,
        )
        if response.status_code != 200:
            raise ConfigError(
                f"token refresh refused: HTTP {response.status_code}: {response.text[:200]}"
            )
        body = response.json()
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
        return [*STREAMS[stream], *(f for f in extra if f)]

    def _records(
        self, client: HttpClient, stream: str, since: datetime
    ) -> Iterator[list[dict[str, Any]]]:
        soql = (
            f"SELECT {', '.join(self._fields(stream))} FROM {stream} "
            f"WHERE SystemModstamp >= {soql_time(since)} ORDER BY SystemModstamp ASC"
        )
        body = client.get_json(f"{self._base}/query", params={"q": soql})
        while True:
            yield body.get("records") or []
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return
            body = client.get_json(body["nextRecordsUrl"])

    def _start(self) -> datetime:
        start = self.settings.start_date
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
            since = datetime.fromisoformat(cursor[stream]) if stream in cursor else self._start()
            for records in self._records(client, stream, since):
                events, rejects = [], []
                for record in records:
                    try:
                        events.extend(self._map(stream, record))
                        since = max(since, parse_utc(record["SystemModstamp"]))
                    except (KeyError, TypeError, ValueError) as exc:
                        rejects.append(
                            Reject(record, f"cannot map {stream} {record.get('Id')!r}: {exc!r}")
                        )
                cursor[stream] = since.isoformat()
                yield Page(events, dict(cursor), rejects)
        yield from self._deletions(client, cursor)

    def _deletions(self, client: HttpClient, cursor: Cursor) -> Iterator[Page]:
        """getDeleted per object, from where the last check ended (Salesforce keeps ~15 days)."""
        now = datetime.now(UTC).replace(microsecond=0)
        start = (
            datetime.fromisoformat(cursor["deleted"])
            if "deleted" in cursor
            else now - timedelta(days=14)
        )
        if now - start < timedelta(minutes=1):
            return
        events = []
        for stream, type_, key_of in (
            ("Account", "customer_account.deleted", account_key),
            ("Opportunity", "deal.deleted", deal_key),
        ):
            body = client.get_json(
                f"{self._base}/sobjects/{stream}/deleted/",
                params={"start": soql_time(start), "end": soql_time(now)},
            )
            for record in body.get("deletedRecords") or []:
                events.append(
                    self.event(
                        type_,
                        key_of(record["id"]),
                        "deleted",
                        parse_utc(record["deletedDate"]),
                        {"reason": "deleted in Salesforce"},
                    )
                )
        cursor["deleted"] = now.isoformat()
        yield Page(events, dict(cursor))

    def _map(self, stream: str, record: Mapping[str, Any]) -> list[Event]:
        at = parse_utc(record["SystemModstamp"])
        change = f"modstamp:{record['SystemModstamp']}"
        if stream == "Account":
            arr = record.get(self.settings.arr_field) if self.settings.arr_field else None
            return [
                self.event(
                    "customer_account.upserted",
                    account_key(record["Id"]),
                    change,
                    at,
                    {
                        "name": record.get("Name") or record["Id"],
                        "domain": record.get("Website"),
                        "arr": float(arr) if isinstance(arr, int | float) else None,
                        "tier": record.get(self.settings.tier_field)
                        if self.settings.tier_field
                        else None,
                    },
                )
            ]
        if stream == "Opportunity":
            key = deal_key(record["Id"])
            events = [
                self.event(
                    "deal.upserted",
                    key,
                    change,
                    at,
                    {
                        "name": record.get("Name"),
                        "account": account_key(record["AccountId"])
                        if record.get("AccountId")
                        else None,
                        "stage": record.get("StageName"),
                        "amount": record.get("Amount"),
                        "close_date": record.get("CloseDate"),
                        "is_closed": bool(record.get("IsClosed")),
                        "is_won": bool(record.get("IsWon")),
                    },
                )
            ]
            rules = rule_targets(record.get("Name"), self.settings.link_rules)
            value = record.get(self.settings.link_field) if self.settings.link_field else None
            events.extend(field_link_events(self.event, "deal.linked", key, value, at, rules))
            return events
        if stream == "OpportunityHistory":
            return [
                self.event(
                    "deal.stage_changed",
                    deal_key(record["OpportunityId"]),
                    f"history:{record['Id']}",
                    parse_utc(record["CreatedDate"]),
                    {"to_stage": record["StageName"]},
                )
            ]
        key = f"salesforce-case-{record['Id']}"
        opened = parse_utc(record["CreatedDate"])
        events = [
            self.event(
                "customer_request.opened",
                key,
                "opened",
                opened,
                {
                    "title": record.get("Subject"),
                    "priority": record.get("Priority"),
                    "status": record.get("Status"),
                    "channel": record.get("Origin"),
                    "account": account_key(record["AccountId"])
                    if record.get("AccountId")
                    else None,
                },
            ),
            self.event(
                "customer_request.status_changed",
                key,
                change,
                at,
                {"to_status": record.get("Status") or ""},
            ),
        ]
        if record.get("IsClosed") and record.get("ClosedDate"):
            events.append(
                self.event(
                    "customer_request.closed",
                    key,
                    f"closed:{record['ClosedDate']}",
                    parse_utc(record["ClosedDate"]),
                    {"resolution": record.get("Status")},
                )
            )
        return events

    def check(self) -> list[FieldProblem]:
        return self.probe(
            "settings.refresh_token", f"{self._base}/limits", url_field="settings.instance_url"
        )[1]


def account_key(record_id: str) -> str:
    return f"salesforce-account-{record_id}"


def deal_key(record_id: str) -> str:
    return f"salesforce-opportunity-{record_id}"
