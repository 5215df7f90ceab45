"""The HubSpot connector against the HubSpot emulator (a real server) and the real sample."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.config import build_connector, parse_config
from connectors.hubspot.connector import HubSpotConnector
from connectors.webhooks import WebhookRejected
from core.secrets import SecretResolver
from emulators.hubspot import HubSpotEmulator, generate_crm, hs_time
from projections.replay import replay
from projections.rollups import WorkIndex, roadmap_item_view
from tests.connectors.helpers import pull_all
from tests.helpers import event_dict

SAMPLE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "api-samples"
    / "hubspot"
    / "hubspot_deals_search_response.nango-recorded.json"
)


def connector(hs: HubSpotEmulator, **settings: Any) -> HubSpotConnector:
    base = {
        "base_url": hs.url,
        "access_token": "${env:HS}",
        "requests_per_second": 1000,
        "page_size": 200,
        "arr_property": "arr",
        "link_property": "roadmap_item",
        "webhook_secret": "${env:HS_SECRET}",
    }
    valid = parse_config({"name": "hs", "type": "hubspot", "settings": {**base, **settings}})
    built = build_connector(valid, SecretResolver({"HS": hs.token, "HS_SECRET": hs.client_secret}))
    assert isinstance(built, HubSpotConnector)
    return built


def test_the_search_ceiling_is_crossed_without_loss() -> None:
    """10,500 deals: the connector re-anchors before 10,000 and still sees every deal once."""
    with HubSpotEmulator(generate_crm(10_500, same_time=3)) as hs:
        events, cursor = pull_all(connector(hs))
        searches = [r.json() for r in hs.requests if r.path.endswith("/deals/search")]
    deals = {e.entity.key for e in events if e.type == "deal.upserted"}
    assert len(deals) == 10_500
    anchors = {s["filterGroups"][0]["filters"][0]["value"] for s in searches}
    assert len(anchors) >= 2 and all(int(s.get("after") or 0) + 200 <= 10_000 for s in searches)
    assert cursor["deals"] > 0


def test_an_unchanged_source_yields_nothing_on_the_next_pull() -> None:
    """Records sharing the cursor's millisecond are read once, not again on every poll; one
    that appears later in that same millisecond, or changes after it, still is."""
    crm = generate_crm(12, companies=5, same_time=4)
    with HubSpotEmulator(crm) as hs:
        c = connector(hs)
        first, cursor = pull_all(c)
        assert len({e.entity.key for e in first if e.type == "customer_account.upserted"}) == 5
        again, cursor = pull_all(c, cursor)
        assert [e for e in again if e.type != "deal.deleted"] == []
        late = copy.deepcopy(crm["deals"][-1])  # written in the cursor's very millisecond
        late["id"] = late["properties"]["hs_object_id"] = "479475667999"
        crm["deals"].append(late)
        crm["history"][late["id"]] = crm["history"][crm["deals"][-2]["id"]]
        crm["associations"][late["id"]] = ["7000"]
        changed = crm["deals"][0]
        changed["properties"]["hs_lastmodifieddate"] = hs_time(datetime(2026, 3, 3, tzinfo=UTC))
        third, _ = pull_all(c, cursor)
    upserted = {e.entity.key for e in third if e.type == "deal.upserted"}
    assert upserted == {f"hubspot-deal-{late['id']}", f"hubspot-deal-{changed['id']}"}


def test_stages_companies_links_and_archives() -> None:
    """Stage history arrives at its own times with pipeline labels; deals know their company;
    the roadmap property links demand; archived deals are deleted."""
    crm = generate_crm(12, companies=3)
    crm["archived"].append(
        {
            "kind": "deals",
            "id": crm["deals"][1]["id"],
            "properties": {},
            "archived": True,
            "archivedAt": hs_time(datetime(2026, 3, 5, tzinfo=UTC)),
            "updatedAt": hs_time(datetime(2026, 3, 5, tzinfo=UTC)),
        }
    )
    with HubSpotEmulator(crm) as hs:
        hs.throttle_next = 2  # 429 without Retry-After: exponential backoff
        events, cursor = pull_all(connector(hs))
        again, _ = pull_all(connector(hs), cursor)
    plan = event_dict("roadmap_item.planned", "R0", "p", payload={"title": "Exports"})
    from core.codec import decode_dict

    entities = replay((e, None) for e in [*events, decode_dict(plan)])
    deal = entities["deal"][f"hubspot-deal-{crm['deals'][2]['id']}"]
    assert [s["to"] for s in deal["stages"]] == [
        "Appointment Scheduled",
        "Qualified To Buy",
        "Closed Won",
    ]
    assert deal["is_won"] and deal["account"] == "hubspot-company-7002"
    assert entities["deal"][f"hubspot-deal-{crm['deals'][1]['id']}"]["deleted_at"]
    demand = roadmap_item_view(
        "R0", entities, WorkIndex(entities, datetime(2027, 1, 1, tzinfo=UTC))
    )["demand"]  # type: ignore[index]
    assert demand["accounts"] and demand["arr"] > 0
    assert not [e for e in again if e.type == "deal.deleted"]  # archives are reported once


def test_tickets_become_customer_requests_when_configured() -> None:
    """With include_tickets, tickets open, move through their pipeline, close and link work."""
    with HubSpotEmulator(generate_crm(2)) as hs:
        events, cursor = pull_all(connector(hs, include_tickets=True))
    entities = replay((e, None) for e in events)
    requests = entities["customer_request"]
    assert len(requests) == 4 and "tickets" in cursor
    closed = requests["hubspot-ticket-9101"]
    assert closed["closed_at"] and closed["status"] == "Closed"
    assert requests["hubspot-ticket-9100"]["closed_at"] is None
    assert "work_item/GEN-1" in requests["hubspot-ticket-9100"]["links"]


def test_v3_signed_webhooks_read_deals_back_and_refuse_forgeries() -> None:
    """A signed notification batch maps like the pull; a stale or forged one is refused."""
    crm = generate_crm(3)
    with HubSpotEmulator(crm) as hs:
        c = connector(hs)
        uri = "https://hub.example/webhooks/hs"
        notes = [
            {"subscriptionType": "deal.propertyChange", "objectId": int(crm["deals"][0]["id"])}
        ]
        body, headers = hs.signed(notes, uri, datetime.now(UTC))
        c.verify_webhook("POST", uri, headers, body)
        pushed = c.parse_webhook(headers, body).events
        pulled, _ = pull_all(c)
        stale_body, stale = hs.signed(notes, uri, datetime.now(UTC) - timedelta(minutes=10))
        with pytest.raises(WebhookRejected, match="window"):
            c.verify_webhook("POST", uri, stale, stale_body)
        with pytest.raises(WebhookRejected):
            c.verify_webhook("POST", uri + "x", headers, body)
    assert {e.event_id for e in pushed} <= {e.event_id for e in pulled}


def test_the_real_sample_maps() -> None:
    """Every deal in the recorded search response maps."""
    sample = json.loads(SAMPLE.read_text())
    crm = {
        "deals": sample["results"],
        "companies": [],
        "history": {},
        "associations": {},
        "archived": [],
    }
    with HubSpotEmulator(crm) as hs:
        c = connector(hs, page_size=5)
        events, _ = pull_all(c)
    assert len({e.entity.key for e in events if e.type == "deal.upserted"}) == len(
        sample["results"]
    )


def test_label_rules_link_deals_by_name_and_the_daily_cap_is_not_retried() -> None:
    """A name rule links deals to a roadmap item; a DAILY 429 fails the sync at once."""
    crm = generate_crm(6)
    with HubSpotEmulator(crm) as hs:
        events, _ = pull_all(connector(hs, link_rules={r"deal [135]\b": "R-ODD"}))
        linked = {
            e.entity.key
            for e in events
            if e.type == "deal.linked" and e.payload.target.key == "R-ODD"
        }  # type: ignore[union-attr]
        assert linked == {f"hubspot-deal-{crm['deals'][n]['id']}" for n in (1, 3, 5)}
        hs.throttle_next, hs.throttle_policy = 5, "DAILY"
        with pytest.raises(Exception, match="daily API limit"):
            pull_all(connector(hs))
        assert hs.throttle_next == 4  # refused after one answer, not retried


def test_archiving_that_leaves_the_modification_time_is_still_seen_and_reported_once() -> None:
    """A deal and a ticket archived without moving hs_lastmodifieddate, one of them listed
    late (archived before the newest one already reported), are each reported once;
    every company is an account even with no deal."""
    crm = generate_crm(6, companies=4)
    crm["associations"] = {k: ["7000"] for k in crm["associations"]}  # 7001-7003: no deals
    with HubSpotEmulator(crm) as hs:
        c = connector(hs, include_tickets=True)
        first, cursor = pull_all(c)
        now = datetime.now(UTC)
        deal_id, ticket_id = crm["deals"][0]["id"], crm["tickets"][0]["id"]
        hs.archive("deals", deal_id, now - timedelta(minutes=1))
        for extra in ("7002", "7003"):
            hs.archive("companies", extra, now - timedelta(minutes=2))
        second, cursor = pull_all(c, cursor)
        hs.archive("tickets", ticket_id, now - timedelta(minutes=30))  # listed late
        third, cursor = pull_all(c, cursor)
        fourth, _ = pull_all(c, cursor)
        searches = [r for r in hs.requests if r.path.endswith("/search")]
    accounts = {e.entity.key for e in first if e.type == "customer_account.upserted"}
    assert accounts == {f"hubspot-company-{7000 + n}" for n in range(4)}
    deleted = [(e.entity.key, e.type) for e in second if e.type.endswith("deleted")]
    assert (f"hubspot-deal-{deal_id}", "deal.deleted") in deleted
    assert len(deleted) == 3
    closed = [e.entity.key for e in third if e.type == "customer_request.closed"]
    assert closed == [f"hubspot-ticket-{ticket_id}"]
    assert not [e for e in fourth if e.type.endswith("deleted") or e.type.endswith("closed")]
    assert searches  # the deletions came from the listings, not from search


def test_start_date_bounds_deal_history_but_not_companies() -> None:
    """Companies last modified before ``start_date`` still become customer accounts with
    their ARR, while older deals stay out: the start bounds history, not accounts."""
    crm = generate_crm(4, companies=2)  # all in March 2026
    with HubSpotEmulator(crm) as hs:
        events, _ = pull_all(connector(hs, start_date="2026-06-01"))
    accounts = {e.entity.key: e.payload for e in events if e.type == "customer_account.upserted"}
    assert set(accounts) == {"hubspot-company-7000", "hubspot-company-7001"}
    assert accounts["hubspot-company-7001"].arr == 24000.0  # type: ignore[union-attr]
    assert not [e for e in events if e.entity.kind == "deal"]


def test_a_ticket_carries_its_content_scrubbed_of_personal_data() -> None:
    """Subject plus the ticket's content reach the log, the card number replaced."""
    crm = generate_crm(2)
    crm["tickets"][0]["properties"]["content"] = "Charged twice on 4111 1111 1111 1111"
    with HubSpotEmulator(crm) as hs:
        events, _ = pull_all(connector(hs, include_tickets=True))
    opened = {e.entity.key: e.payload for e in events if e.type == "customer_request.opened"}
    text = opened["hubspot-ticket-9100"].text  # type: ignore[union-attr]
    assert text == "Feature request 0\nCharged twice on [card number]"
