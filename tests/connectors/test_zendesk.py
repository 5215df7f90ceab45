"""The Zendesk connector against the Zendesk emulator (a real server) and the real samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.config import build_connector, parse_config
from connectors.webhooks import WebhookRejected
from connectors.zendesk.connector import ZendeskConnector
from connectors.zendesk.mapping import ZendeskContext, audit_changes, map_history, map_ticket
from core.events import Event
from core.secrets import SecretResolver
from emulators.zendesk import ZendeskEmulator, generate_tickets
from projections.replay import replay
from projections.rollups import WorkIndex, request_view
from tests.connectors.helpers import pull_all

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "api-samples" / "zendesk"


def connector(zd: ZendeskEmulator, **settings: Any) -> ZendeskConnector:
    base = {
        "base_url": zd.url,
        "email": zd.email,
        "api_token": "${env:ZD}",
        "page_size": 100,
        "group_teams": {"222": "platform"},
        "jira_tag_prefix": "jira_",
        "arr_field": "arr",
        "tier_field": "tier",
        "webhook_secret": "${env:ZD_HOOK}",
        "requests_per_second": 500,
    }
    valid = parse_config({"name": "zd", "type": "zendesk", "settings": {**base, **settings}})
    built = build_connector(valid, SecretResolver({"ZD": zd.token, "ZD_HOOK": zd.webhook_secret}))
    assert isinstance(built, ZendeskConnector)
    return built


def test_backfill_then_incremental_across_cursor_boundaries() -> None:
    """250 tickets in 3 pages; later changes come by cursor alone; nothing missed or doubled."""
    tickets, audits, orgs = generate_tickets(250)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        c = connector(zd)
        first, cursor = pull_all(c)
        exports = [r for r in zd.requests if "tickets/cursor" in r.path]
        assert len(exports) == 3 and "start_time" in exports[0].query
        moment = datetime(2026, 4, 1, tzinfo=UTC)
        for ticket_id in (500, 501, 502):
            zd.change_status(ticket_id, "closed", moment)
            moment += timedelta(minutes=1)
        zd.requests.clear()
        second, _ = pull_all(c, cursor)
        export = [r for r in zd.requests if "tickets/cursor" in r.path]
    assert all("start_time" not in r.query and "cursor" in r.query for r in export)
    seen = {e.event_id for e in first}  # a time-based export repeats its boundary second
    assert {e.entity.key for e in second if e.event_id not in seen} == {
        "zendesk-500",
        "zendesk-501",
        "zendesk-502",
    }
    entities = replay((e, None) for e in [*first, *second])
    assert len(entities["customer_request"]) == 250
    assert len(entities["customer_account"]) == 5
    view = request_view(
        entities["customer_request"]["zendesk-500"],
        entities,
        WorkIndex(entities, datetime(2026, 5, 1, tzinfo=UTC)),
    )
    assert view["status"] == "closed" and view["closed_at"] and view["arr"] == 10000


def test_an_empty_page_is_not_the_end_and_429s_are_waited_out() -> None:
    """end_of_stream false on an empty page means keep going; throttling slows, not breaks."""
    tickets, audits, orgs = generate_tickets(20)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        zd.empty_pages, zd.throttle_next = 1, 2
        events, _ = pull_all(connector(zd))
    assert len({e.entity.key for e in events if e.entity.kind == "customer_request"}) == 20


def test_status_history_escalations_and_jira_links() -> None:
    """Each audit's change is an event at its own time; group 222 escalates to platform;
    tags jira_<key> link work items."""
    tickets, audits, orgs = generate_tickets(30)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        events, _ = pull_all(connector(zd))
    by_type: dict[str, list[Event]] = {}
    for e in events:
        by_type.setdefault(e.type, []).append(e)
    escalated = {e.entity.key for e in by_type["customer_request.escalated"]}
    expected = {f"zendesk-{t['id']}" for t in tickets if t["group_id"] == 222}
    assert escalated == expected
    linked = by_type["customer_request.linked"][0]
    assert linked.payload.target.key.startswith("GEN-")  # type: ignore[union-attr]
    first_status = min(
        (e for e in by_type["customer_request.status_changed"] if e.entity.key == "zendesk-500"),
        key=lambda e: e.occurred_at,
    )
    assert first_status.occurred_at == datetime.fromisoformat(
        tickets[0]["created_at"].replace("Z", "+00:00")
    )


def test_start_time_is_kept_a_minute_in_the_past() -> None:
    """A start date of today still asks for a start_time Zendesk accepts (a minute back)."""
    with ZendeskEmulator([]) as zd:
        pull_all(connector(zd, start_date=datetime.now(UTC).date().isoformat()))
        sent = int(zd.requests[-1].query["start_time"])
    assert sent <= datetime.now(UTC).timestamp() - 59


def test_signed_webhooks_read_the_ticket_back_and_forgeries_are_refused() -> None:
    """A Zendesk-signed delivery maps the ticket with its audits; a bad signature or an old
    timestamp is refused."""
    tickets, audits, orgs = generate_tickets(3)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        c = connector(zd)
        now = datetime.now(UTC)
        body, headers = zd.signed(
            {"type": "zen:event-type:ticket.status_changed", "detail": {"id": "501"}}, now
        )
        c.verify_webhook("POST", "/webhooks/zd", headers, body)
        events = c.parse_webhook(headers, body).events
        pulled, _ = pull_all(c)
        with pytest.raises(WebhookRejected):
            c.verify_webhook(
                "POST", "/webhooks/zd", {**headers, "X-Zendesk-Webhook-Signature": "AAAA"}, body
            )
        stale_body, stale = zd.signed({"detail": {"id": "501"}}, now - timedelta(hours=1))
        with pytest.raises(WebhookRejected, match="window"):
            c.verify_webhook("POST", "/webhooks/zd", stale, stale_body)
    assert {e.event_id for e in events} <= {e.event_id for e in pulled}


def test_every_real_sample_maps_without_dead_letters() -> None:
    """The cursor export, the time-based export and the audit sample all map."""
    context = ZendeskContext(connector_event(), "https://example.zendesk.com", {"98738": "core"})
    cursor = json.loads(
        (SAMPLES / "zendesk_incremental_tickets_cursor.airbyte-fixture.json").read_text()
    )
    timed = json.loads(
        (SAMPLES / "zendesk_incremental_tickets_time_based.nango-recorded.json").read_text()
    )
    created = json.loads(
        (SAMPLES / "zendesk_ticket_create_with_audit.nango-recorded.json").read_text()
    )
    for ticket in [*cursor["tickets"], *timed["tickets"]]:
        assert map_ticket(ticket, context)
    events = map_history(audit_changes(created["audit"]), context)
    statuses = [e for e in events if e.type == "customer_request.status_changed"]
    assert statuses[0].payload.to_status == "open"  # type: ignore[union-attr]


def connector_event() -> Any:
    with ZendeskEmulator([]) as zd:
        return connector(zd).event


def test_deleted_tickets_are_closed_as_deleted() -> None:
    """Zendesk reports a deleted ticket with status 'deleted': the request closes as deleted."""
    tickets, audits, orgs = generate_tickets(2)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        c = connector(zd)
        _, cursor = pull_all(c)
        zd.delete(501, datetime(2026, 5, 1, tzinfo=UTC))
        events, _ = pull_all(c, cursor)
    closed = [
        (e.entity.key, e.payload.resolution) for e in events if e.type == "customer_request.closed"
    ]  # type: ignore[union-attr]
    assert ("zendesk-501", "deleted") in closed
    state = replay((e, None) for e in events)["customer_request"]["zendesk-501"]
    assert state["resolution"] == "deleted"


def test_team_from_group_then_assignee_then_tag() -> None:
    """A mapped group wins; otherwise the assignee's team; otherwise a tag's."""
    tickets, audits, orgs = generate_tickets(10)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        events, _ = pull_all(
            connector(zd, assignee_teams={"300": "support"}, tag_teams={"enterprise": "sales"})
        )
    opened = {e.entity.key: e.payload.team for e in events if e.type == "customer_request.opened"}  # type: ignore[union-attr]
    for ticket in tickets:
        expected = "platform" if ticket["group_id"] == 222 else "support"
        assert opened[f"zendesk-{ticket['id']}"] == expected


def test_every_organization_becomes_an_account_not_only_those_with_changed_tickets() -> None:
    """The organization export brings accounts no ticket names, with ARR and tier."""
    tickets, audits, orgs = generate_tickets(4, orgs=2)
    quiet = {**orgs[0], "id": 990, "name": "No tickets yet"}
    quiet["organization_fields"] = {"arr": 77000, "tier": "smb"}
    with ZendeskEmulator(tickets, audits, [*orgs, quiet]) as zd:
        events, _ = pull_all(connector(zd))
    accounts = {e.entity.key: e.payload for e in events if e.type == "customer_account.upserted"}
    assert set(accounts) == {"zendesk-org-900", "zendesk-org-901", "zendesk-org-990"}
    assert accounts["zendesk-org-990"].arr == 77000  # type: ignore[union-attr]
    assert accounts["zendesk-org-990"].tier == "smb"  # type: ignore[union-attr]


def test_history_for_many_tickets_costs_export_pages_not_a_request_per_ticket() -> None:
    """With the ticket events export, 300 changed tickets take no audits request at all and
    give the same history events as reading each ticket's audits."""
    tickets, audits, orgs = generate_tickets(300)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        exported, _ = pull_all(connector(zd))
        by_export = len(zd.requests)
        assert not [r for r in zd.requests if r.path.endswith("/audits.json")]
        zd.requests.clear()
        audited, _ = pull_all(connector(zd, admin_exports=False))
        by_audits = len(zd.requests)
    assert by_export <= 10 and by_audits >= 300
    assert {e.event_id for e in exported} == {e.event_id for e in audited}


def test_a_ticket_deleted_before_its_audits_are_read_closes_and_the_sync_goes_on() -> None:
    """Audits answering 404 close that ticket as deleted; every other ticket still maps."""
    tickets, audits, orgs = generate_tickets(6)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        zd.deleted.add(502)  # gone between the ticket export and its audits
        events, _ = pull_all(connector(zd, admin_exports=False))
    closed = {
        e.entity.key: e.payload.resolution for e in events if e.type == "customer_request.closed"
    }  # type: ignore[union-attr]
    assert closed["zendesk-502"] == "deleted"
    opened = {e.entity.key for e in events if e.type == "customer_request.opened"}
    assert opened == {f"zendesk-{t['id']}" for t in tickets}


def test_an_agent_token_is_told_the_exports_need_an_admin() -> None:
    """check() names admin_exports when the exports answer 403, before any sync fails."""
    with ZendeskEmulator([]) as zd:
        zd.admin = False
        problems = connector(zd).check()
        assert [p.field for p in problems] == ["settings.admin_exports"]
        assert connector(zd, admin_exports=False).check() == []


def test_an_export_cursor_inside_the_last_minute_waits_instead_of_rereading_it() -> None:
    """Zendesk serves nothing newer than a minute: once the ticket events cursor is that
    recent, the next sync asks nothing of the export rather than re-reading the minute."""
    tickets, audits, orgs = generate_tickets(3)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        zd.change_status(501, "solved", datetime.now(UTC) - timedelta(seconds=70))
        c = connector(zd)
        _, cursor = pull_all(c)
        assert cursor["events_since"] > datetime.now(UTC).timestamp() - 120
        zd.change_status(502, "solved", datetime.now(UTC) - timedelta(seconds=5))
        cursor["events_since"] = int(datetime.now(UTC).timestamp()) - 30  # inside the minute
        zd.requests.clear()
        _, later = pull_all(c, cursor)
        asked = [r for r in zd.requests if "ticket_events" in r.path]
    assert asked == [] and later["events_since"] == cursor["events_since"]


def test_start_date_bounds_ticket_history_but_not_accounts() -> None:
    """Organizations last changed before ``start_date`` are still customer accounts while
    the tickets from before it stay out: the start bounds history, not who the customers
    are (demand weighs every account, however long unchanged)."""
    tickets, audits, orgs = generate_tickets(4, orgs=2)  # all in February 2026
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        events, _ = pull_all(connector(zd, start_date="2026-06-01"))
    accounts = {e.entity.key for e in events if e.type == "customer_account.upserted"}
    assert accounts == {"zendesk-org-900", "zendesk-org-901"}
    assert not [e for e in events if e.entity.kind == "customer_request"]


def test_a_ticket_carries_its_words_scrubbed_of_personal_data() -> None:
    """Subject plus description reach the log as plain text, the e-mail address and IBAN
    in them replaced before anything is published."""
    tickets, audits, orgs = generate_tickets(2, orgs=1)
    tickets[0]["subject"] = "Refund missing"
    tickets[0]["description"] = "Send it to DE89 3704 0044 0532 0130 00, or mail ana@corp.example"
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        events, _ = pull_all(connector(zd))
    opened = {e.entity.key: e.payload for e in events if e.type == "customer_request.opened"}
    text = opened[f"zendesk-{tickets[0]['id']}"].text  # type: ignore[union-attr]
    assert text == "Refund missing\nSend it to [iban], or mail [email]"
