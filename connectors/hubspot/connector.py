"""The HubSpot connector: CRM search on ``hs_lastmodifieddate``, stage history, archives.

The search API sorts by ``hs_lastmodifieddate`` and pages by ``after``, but stops at 10,000
results per query; before reaching it the connector re-anchors the filter on the last
modification time it saw and starts again at ``after`` 0 (records sharing that time are
read twice and map to the same ids). Stage changes come from ``dealstage``'s property
history, read in batches, and pipelines give each stage its label and whether it closes
the deal. Search never returns archived records, and archiving need not move
``hs_lastmodifieddate``, so every sync also reads the archived listings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from pydantic import Field

from connectors.base import Connector, ConnectorSettings, Cursor, FieldProblem, Page, Reject
from connectors.hubspot.mapping import (
    company_key,
    deal_key,
    map_company,
    map_deal,
    map_ticket,
    ticket_key,
)
from connectors.hubspot.streams import (
    ARCHIVED,
    COMPANY_PROPERTIES,
    DEAL_PROPERTIES,
    NEXT_AFTER,
    SEARCH,
    SEARCH_CEILING,
    TICKET_PROPERTIES,
)
from connectors.streams import dig
from connectors.webhooks import verify_hubspot_v3
from core.errors import FatalError
from core.events import Event, parse_utc
from core.http import HttpClient
from core.secrets import SecretRef

__all__ = ["HubSpotConnector", "HubSpotSettings"]


ARCHIVE_LOOKBACK_MS = 24 * 3600 * 1000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class HubSpotSettings(ConnectorSettings):
    base_url: str = Field(default="https://api.hubapi.com", pattern=r"^https?://")
    access_token: SecretRef = Field(description="Private app token.")
    arr_property: str | None = Field(default=None, description="Company property holding ARR.")
    tier_property: str | None = None
    link_property: str | None = Field(
        default=None, description="Deal property with Jira keys or roadmap ids."
    )
    start_date: date | None = Field(
        default=None,
        description="How far back a first backfill of history goes (accounts are read whole).",
    )
    include_tickets: bool = Field(default=False, description="Tickets as customer requests.")
    link_rules: dict[str, str] = Field(
        default_factory=dict, description="Regex on the deal name -> roadmap id it is about."
    )
    webhook_secret: SecretRef | None = Field(
        default=None, description="The app's client secret (v3)."
    )
    page_size: int = Field(default=100, ge=1, le=200)
    requests_per_second: float = Field(
        default=4.0, gt=0, description="Search allows about 5 a second."
    )


class HubSpotConnector(Connector):
    type_name = "hubspot"
    system = "hubspot"
    settings_model = HubSpotSettings
    supports_webhooks = True
    settings: HubSpotSettings

    def client(self) -> HttpClient:
        token = self.secrets.resolve(self.settings.access_token)
        return self.http(
            self.settings.base_url, headers={"Authorization": f"Bearer {token}"}, refuse=_daily_cap
        )

    # --- reading -------------------------------------------------------------------

    def _search(
        self, client: HttpClient, kind: str, since_ms: int, properties: list[str]
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Pages of records modified at or after ``since_ms``, re-anchoring under the ceiling."""
        anchor = since_ms
        while True:  # one search per anchor: the ceiling bounds each
            query = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "hs_lastmodifieddate",
                                "operator": "GTE",
                                "value": str(anchor),
                            }
                        ]
                    }
                ],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                "properties": properties,
                "limit": self.settings.page_size,
            }
            for body, results in SEARCH.pages(client, query, path_args={"kind": kind}):
                newest = max(
                    (_ms(parse_utc(r["properties"]["hs_lastmodifieddate"])) for r in results),
                    default=anchor,
                )
                yield results, newest
                nxt = dig(body, NEXT_AFTER)
                if nxt and int(nxt) + self.settings.page_size > SEARCH_CEILING:
                    if newest == anchor:  # a whole ceiling of records share one timestamp
                        raise FatalError(f"more than {SEARCH_CEILING} {kind} modified at {anchor}")
                    anchor = newest  # re-anchor: start again at after 0
                    break
            else:
                return

    def _changed(
        self,
        client: HttpClient,
        kind: str,
        cursor: dict[str, Any],
        default: int,
        properties: list[str],
    ) -> Iterator[list[dict[str, Any]]]:
        """Records changed since the cursor, each once; moves ``cursor`` past each page.

        The search filter must include the cursor's own millisecond (a record may be
        modified in it after we read), so the ids already read at that millisecond are
        kept in the cursor (``<kind>_edge``) and skipped when they come back unchanged.
        """
        since = int(cursor.get(kind, default))
        edge = set(cursor.get(f"{kind}_edge") or ())
        for results, newest in self._search(client, kind, since, properties):
            stamp = {
                r["id"]: _ms(parse_utc(r["properties"]["hs_lastmodifieddate"])) for r in results
            }
            fresh = [r for r in results if not (stamp[r["id"]] == since and r["id"] in edge)]
            top = max(since, newest)
            at_top = {i for i, ms in stamp.items() if ms == top}
            edge = (edge | at_top) if top == since else at_top
            since = top
            cursor[kind], cursor[f"{kind}_edge"] = since, sorted(edge)
            yield fresh

    def _pipelines(self, client: HttpClient, kind: str = "deals") -> dict[str, dict[str, Any]]:
        stages = {}
        for pipeline in client.get_json(f"/crm/v3/pipelines/{kind}").get("results") or []:
            for stage in pipeline.get("stages") or []:
                meta = stage.get("metadata") or {}
                stages[stage["id"]] = {
                    "label": stage.get("label"),
                    "pipeline": pipeline.get("label"),
                    "closed": str(meta.get("isClosed")).lower() == "true"
                    or meta.get("ticketState") == "CLOSED",
                    "won": str(meta.get("probability")) in ("1.0", "1"),
                }
        return stages

    def _batch(
        self, client: HttpClient, path: str, ids: list[str], extra: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if not ids:
            return []
        return (
            client.post_json(path, {"inputs": [{"id": i} for i in ids], **extra}).get("results")
            or []
        )

    def pull(self, cursor: Cursor | None) -> Iterator[Page]:
        client = self.client()
        cursor = dict(cursor or {})
        start = self.settings.start_date
        default = _ms(datetime.combine(start, datetime.min.time(), UTC)) if start else 0
        company_props = [
            *COMPANY_PROPERTIES,
            *(p for p in (self.settings.arr_property, self.settings.tier_property) if p),
        ]
        # every company, however long unchanged: start_date bounds history, not accounts
        for results in self._changed(client, "companies", cursor, 0, company_props):
            yield Page([map_company(self.event, r, self.settings) for r in results], dict(cursor))
        stages = self._pipelines(client)
        deal_props = [
            *DEAL_PROPERTIES,
            *([self.settings.link_property] if self.settings.link_property else []),
        ]
        for results in self._changed(client, "deals", cursor, default, deal_props):
            ids = [r["id"] for r in results]
            history = {
                r["id"]: (r.get("propertiesWithHistory") or {}).get("dealstage") or []
                for r in self._batch(
                    client,
                    "/crm/v3/objects/deals/batch/read",
                    ids,
                    {"properties": ["dealstage"], "propertiesWithHistory": ["dealstage"]},
                )
            }
            companies = {
                str(r["from"]["id"]): [str(t["toObjectId"]) for t in r.get("to") or []]
                for r in self._batch(
                    client, "/crm/v4/associations/deals/companies/batch/read", ids, {}
                )
            }
            events, rejects = [], []
            for record in results:
                try:
                    events.extend(
                        map_deal(
                            self.event,
                            record,
                            stages,
                            history.get(record["id"], []),
                            companies.get(record["id"], []),
                            self.settings,
                        )
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    rejects.append(Reject(record, f"cannot map deal {record.get('id')!r}: {exc!r}"))
            yield Page(events, dict(cursor), rejects)
        if self.settings.include_tickets:
            yield from self._tickets(client, cursor, default)
        yield Page(self._archived(client, cursor), dict(cursor))

    def _tickets(self, client: HttpClient, cursor: Cursor, default: int) -> Iterator[Page]:
        """HubSpot tickets (feature requests, escalations) as customer requests."""
        stages = self._pipelines(client, "tickets")
        props = [
            *TICKET_PROPERTIES,
            *([self.settings.link_property] if self.settings.link_property else []),
        ]
        for results in self._changed(client, "tickets", cursor, default, props):
            yield Page(
                [e for r in results for e in map_ticket(self.event, r, stages, self.settings)],
                dict(cursor),
            )

    def _archived(self, client: HttpClient, cursor: Cursor) -> list[Event]:
        """Archived records, read from the archived listings on every sync.

        Search never returns archived records, and archiving need not move
        ``hs_lastmodifieddate``, so a sync that follows modification times alone never
        sees a deletion. The listings hold what was archived in the last 90 days; each
        kind keeps the newest ``archivedAt`` it reported and the ids it reported in the day
        before it, so a record the listing shows late is still reported, and only once.
        """
        events = []
        gone = {"reason": "archived in HubSpot"}
        kinds = [
            ("deals", "deal.deleted", deal_key, gone),
            ("companies", "customer_account.deleted", company_key, gone),
        ]
        if self.settings.include_tickets:
            kinds.append(
                ("tickets", "customer_request.closed", ticket_key, {"resolution": "deleted"})
            )
        legacy = cursor.pop("archived", None)  # one mark for every kind, before each had its own
        for kind, type_, key_of, payload in kinds:
            mark = int(cursor.get(f"archived:{kind}") or legacy or 0)
            # ids already reported near the mark: a late listing must not report them twice
            recent = {
                str(i): int(ms) for i, ms in (cursor.get(f"archived_ids:{kind}") or {}).items()
            }
            listing = {"archived": "true", "limit": 100}
            for record in ARCHIVED.records(client, listing, path_args={"kind": kind}):
                when = parse_utc(record.get("archivedAt") or record["updatedAt"])
                ms = _ms(when)
                if ms <= mark - ARCHIVE_LOOKBACK_MS or str(record["id"]) in recent:
                    continue
                events.append(self.event(type_, key_of(record["id"]), "archived", when, payload))
                recent[str(record["id"])] = ms
                mark = max(mark, ms)
            cursor[f"archived:{kind}"] = mark
            cursor[f"archived_ids:{kind}"] = {
                i: ms for i, ms in sorted(recent.items()) if ms > mark - ARCHIVE_LOOKBACK_MS
            }
        return events

    # --- mapping -------------------------------------------------------------------

    def check(self) -> list[FieldProblem]:
        return self.probe("settings.access_token", "/crm/v3/pipelines/deals")[1]

    # --- webhooks ------------------------------------------------------------------

    def verify_webhook(self, method: str, uri: str, headers: Mapping[str, str], body: bytes) -> str:
        return verify_hubspot_v3(self.webhook_secret(), method, uri, headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Page:
        """HubSpot sends batches naming changed objects; each deal is read back and mapped."""
        import json

        try:
            notifications = json.loads(body)
            deal_ids = sorted(
                {
                    str(n["objectId"])
                    for n in notifications
                    if str(n.get("subscriptionType", "")).startswith("deal.")
                }
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return Page(
                [],
                {},
                [Reject(body.decode(errors="replace"), f"not HubSpot notifications: {exc!r}")],
            )
        if not deal_ids:
            return Page([], {})  # nothing about deals: nothing to read back
        client = self.client()
        stages = self._pipelines(client)
        records = self._batch(
            client,
            "/crm/v3/objects/deals/batch/read",
            deal_ids,
            {"properties": DEAL_PROPERTIES, "propertiesWithHistory": ["dealstage"]},
        )
        companies = {
            str(r["from"]["id"]): [str(t["toObjectId"]) for t in r.get("to") or []]
            for r in self._batch(
                client, "/crm/v4/associations/deals/companies/batch/read", deal_ids, {}
            )
        }
        events = []
        for record in records:
            history = (record.get("propertiesWithHistory") or {}).get("dealstage") or []
            deal_companies = companies.get(record["id"], [])
            events.extend(
                map_deal(self.event, record, stages, history, deal_companies, self.settings)
            )
        return Page(events, {})


def _daily_cap(response: Any) -> str | None:
    """A 429 for the daily cap lasts until midnight: fail this sync instead of retrying."""
    if response.status_code != 429:
        return None
    try:
        policy = response.json().get("policyName")
    except ValueError:
        return None
    return (
        "HubSpot's daily API limit is used up; syncing resumes after it resets"
        if policy == "DAILY"
        else None
    )
