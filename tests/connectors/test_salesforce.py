"""The Salesforce connector against the Salesforce emulator (a real server) and the sample."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.config import build_connector, parse_config
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.mapping import map_record
from core.secrets import SecretResolver
from emulators.salesforce import SalesforceEmulator, generate_org, sf_time
from projections.replay import replay
from tests.connectors.helpers import pull_all

SAMPLE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "api-samples"
    / "salesforce"
    / "salesforce_opportunity_soql_query.nango-recorded.json"
)


def connector(sf: SalesforceEmulator, **settings: Any) -> SalesforceConnector:
    base = {
        "instance_url": sf.url,
        "token_url": f"{sf.url}/services/oauth2/token",
        "client_id": sf.client_id,
        "client_secret": "${env:SF_SECRET}",
        "refresh_token": "${env:SF_REFRESH}",
        "requests_per_second": 500,
        "arr_field": "ARR__c",
        "link_field": "Roadmap_Item__c",
        "include_cases": True,
    }
    valid = parse_config({"name": "sf", "type": "salesforce", "settings": {**base, **settings}})
    built = build_connector(
        valid, SecretResolver({"SF_SECRET": sf.client_secret, "SF_REFRESH": sf.refresh_token})
    )
    assert isinstance(built, SalesforceConnector)
    return built


def test_backfill_with_paging_and_a_token_that_expires_mid_sync() -> None:
    """Pages follow nextRecordsUrl; when the session expires the token is refreshed and the
    request repeated; stage history arrives at its own times."""
    with SalesforceEmulator(generate_org(5, 40), batch_size=10, token_ttl_requests=4) as sf:
        events, cursor = pull_all(connector(sf))
        assert sf.refreshes >= 3
        assert any("/query/" in r.path for r in sf.requests)
    entities = replay((e, None) for e in events)
    assert len(entities["deal"]) == 40 and len(entities["customer_account"]) == 5
    deal = entities["deal"]["salesforce-opportunity-006O00000000003"]
    assert [s["to"] for s in deal["stages"]] == [
        "Prospecting",
        "Qualification",
        "Proposal/Price Quote",
        "Closed Won",
    ]
    assert (
        deal["is_won"]
        and entities["customer_account"]["salesforce-account-001A00000000000"]["arr"] == 10000.0
    )
    assert set(cursor) >= {
        "Account",
        "Opportunity",
        "OpportunityHistory",
        "Case",
        "deleted:Account",
        "deleted:Opportunity",
        "deleted:Case",
    }
    links = {t for d in entities["deal"].values() for t in d["links"]}
    assert "work_item/GEN-1" in links and "roadmap_item/R0" in links
    assert len(entities["customer_request"]) == 8


def test_incremental_sends_the_cursor_and_deletions_arrive() -> None:
    """The next sync asks only for what changed since the cursor; deleted records become
    deleted events; the boundary record read twice has the same ids."""
    org = generate_org(3, 6)
    with SalesforceEmulator(org) as sf:
        c = connector(sf)
        first, cursor = pull_all(c)
        newest = max(datetime.fromisoformat(r["SystemModstamp"]) for r in org["Opportunity"])
        changed = org["Opportunity"][2]
        changed.update(
            StageName="Closed Won",
            IsClosed=True,
            IsWon=True,
            SystemModstamp=sf_time(newest + timedelta(hours=1)),
        )
        cursor["deleted:Opportunity"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        gone = org["Opportunity"][4]["Id"]
        sf.delete("Opportunity", gone, datetime.now(UTC) - timedelta(minutes=5))
        sf.requests.clear()
        second, _ = pull_all(c, cursor)
        soql = [r.query["q"] for r in sf.requests if r.path.endswith("/query")]
    assert any("FROM Opportunity WHERE SystemModstamp >=" in q for q in soql)
    deals = {e.entity.key for e in second if e.type == "deal.upserted"}
    assert f"salesforce-opportunity-{changed['Id']}" in deals and len(deals) <= 2  # + the boundary
    deleted = [e.entity.key for e in second if e.type == "deal.deleted"]
    assert deleted == [f"salesforce-opportunity-{gone}"]
    entities = replay((e, None) for e in [*first, *second])
    assert entities["deal"][f"salesforce-opportunity-{gone}"]["deleted_at"]
    assert entities["deal"][f"salesforce-opportunity-{changed['Id']}"]["is_won"]


def test_refused_refresh_and_bad_field_are_reported() -> None:
    """A revoked refresh token is reported with Salesforce's invalid_grant; an unknown ARR
    column fails the sync with Salesforce's own message."""
    with SalesforceEmulator(generate_org(1, 1)) as sf:
        assert connector(sf).check() == []
        bad = connector(sf, arr_field="Nope__c")
        try:
            pull_all(bad)
        except Exception as exc:
            assert "No such column 'Nope__c'" in str(exc)
        else:
            raise AssertionError("an unknown column must fail the sync")
        stale = connector(sf)
        sf.refresh_token = "revoked"  # the token the connector holds is no longer valid
        problems = stale.check()
    assert problems[0].field == "settings.refresh_token" and "invalid_grant" in problems[0].message


def test_the_real_sample_records_map() -> None:
    """Every opportunity in the recorded SOQL response maps to a deal."""
    sample = json.loads(SAMPLE.read_text())
    with SalesforceEmulator({}) as sf:
        c = connector(sf, link_field=None, arr_field=None)
        events = [
            e for r in sample["records"] for e in map_record(c.event, "Opportunity", r, c.settings)
        ]
    assert len({e.entity.key for e in events}) == sample["totalSize"] == len(sample["records"])
    assert all(e.type == "deal.upserted" for e in events)


def test_deletion_windows_continue_from_the_latest_date_salesforce_covered() -> None:
    """getDeleted covers whole minutes and lags the clock: a deletion it had not covered yet
    is read on the next sync, because the window starts at latestDateCovered, not now."""
    org = generate_org(2, 4)
    with SalesforceEmulator(org) as sf:
        sf.replication_lag = timedelta(minutes=10)
        c = connector(sf)
        _, cursor = pull_all(c)
        covered = datetime.fromisoformat(cursor["deleted:Opportunity"])
        assert covered <= datetime.now(UTC) - timedelta(minutes=10)
        gone = org["Opportunity"][1]["Id"]
        sf.delete("Opportunity", gone, datetime.now(UTC) - timedelta(minutes=5))
        first, cursor = pull_all(c, cursor)  # not yet covered by replication
        sf.replication_lag = timedelta(0)
        time.sleep(0.05)
        second, _ = pull_all(c, {**cursor})
    key = f"salesforce-opportunity-{gone}"
    assert not [e for e in first if e.type == "deal.deleted"]
    assert [e.entity.key for e in second if e.type == "deal.deleted"] == [key]


def test_a_window_older_than_salesforce_keeps_is_clamped_and_reported() -> None:
    """A cursor from 40 days ago starts at the oldest date getDeleted accepts (not a 400)
    and the page warns that older deletions may have been missed."""
    with SalesforceEmulator(generate_org(1, 2)) as sf:
        c = connector(sf)
        _, cursor = pull_all(c)
        old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
        cursor = {**cursor, "deleted:Account": old}
        pages = list(c.pull(cursor))
    warnings = [w for p in pages for w in p.warnings]
    assert len(warnings) == 1 and "Account deletions before" in warnings[0]


def test_every_account_is_a_customer_account_with_arr_and_tier_even_without_deals() -> None:
    """Accounts come from their own query, not through opportunities or cases: one with
    neither still becomes a customer account, ARR and tier from the configured fields."""
    org = generate_org(3, 1)
    org["Account"][2]["Tier__c"] = "Enterprise"
    with SalesforceEmulator(org) as sf:
        events, _ = pull_all(connector(sf, tier_field="Tier__c"))
    used = {o["AccountId"] for o in org["Opportunity"]} | {c["AccountId"] for c in org["Case"]}
    lonely = org["Account"][2]["Id"]
    assert lonely not in used
    accounts = {e.entity.key: e.payload for e in events if e.type == "customer_account.upserted"}
    assert accounts[f"salesforce-account-{lonely}"].arr == 30000.0  # type: ignore[union-attr]
    assert accounts[f"salesforce-account-{lonely}"].tier == "Enterprise"  # type: ignore[union-attr]


def test_start_date_bounds_opportunity_history_but_not_accounts() -> None:
    """Accounts last modified before ``start_date`` still become customer accounts, while
    older opportunities stay out: the start bounds history, not accounts."""
    org = generate_org(2, 2)  # all in March 2026
    with SalesforceEmulator(org) as sf:
        events, _ = pull_all(connector(sf, start_date="2026-06-01"))
    accounts = {e.entity.key for e in events if e.type == "customer_account.upserted"}
    assert accounts == {f"salesforce-account-{a['Id']}" for a in org["Account"]}
    assert not [e for e in events if e.entity.kind == "deal"]


def test_a_case_carries_its_description_scrubbed_of_personal_data() -> None:
    """Subject plus the case's description reach the log, the phone number replaced."""
    org = generate_org(2, 5)
    org["Case"][0]["Description"] = "Exports stop. Call me on (415) 555-2671."
    with SalesforceEmulator(org) as sf:
        events, _ = pull_all(connector(sf))
    opened = {e.entity.key: e.payload for e in events if e.type == "customer_request.opened"}
    text = opened[f"salesforce-case-{org['Case'][0]['Id']}"].text  # type: ignore[union-attr]
    assert text == "Problem 0\nExports stop. Call me on [phone]."
