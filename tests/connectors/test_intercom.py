"""The Intercom connector against the Intercom emulator (a real server) and the real sample."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.config import build_connector, parse_config
from connectors.intercom.connector import IntercomConnector, IntercomSettings
from connectors.intercom.mapping import map_conversation
from core.events import iso
from core.secrets import SecretResolver
from emulators.intercom import IntercomEmulator, generate_conversations
from projections.replay import replay
from projections.rollups import WorkIndex, request_view
from tests.connectors.helpers import pull_pages

SAMPLE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "api-samples"
    / "intercom"
    / "intercom_conversations_search.nango-recorded.json"
)


def connector(ic: IntercomEmulator, **settings: Any) -> IntercomConnector:
    base = {
        "base_url": ic.url,
        "access_token": "${env:IC}",
        "page_size": 50,
        "requests_per_second": 500,
        "team_teams": {"55": "platform"},
        "jira_tag_prefix": "jira_",
        "webhook_secret": "${env:IC_SECRET}",
    }
    valid = parse_config({"name": "ic", "type": "intercom", "settings": {**base, **settings}})
    built = build_connector(valid, SecretResolver({"IC": ic.token, "IC_SECRET": ic.client_secret}))
    assert isinstance(built, IntercomConnector)
    return built


def test_a_pass_keeps_its_bound_until_it_ends_so_unordered_pages_lose_nothing() -> None:
    """Pages come in id order; the cursor keeps the pass's lower bound and token mid-pass and
    moves to the newest updated_at only at the end."""
    conversations, companies = generate_conversations(120)
    with IntercomEmulator(conversations, companies) as ic:
        c = connector(ic)
        events, cursors = pull_pages(c)
        assert len(cursors) == 3
        assert cursors[0]["since"] == 0 and cursors[0]["starting_after"]
        assert cursors[-1]["since"] == max(x["updated_at"] for x in conversations)
        # resume from a mid-pass cursor (as after a crash): the rest of the pass, same bound
        resumed, _ = pull_pages(c, cursors[0])
        later = max(x["updated_at"] for x in conversations) + 100
        ic.close(conversations[5]["id"], later)
        ic.close(conversations[9]["id"], later + 1)
        incremental, final = pull_pages(c, cursors[-1])
    keys = {e.entity.key for e in events if e.entity.kind == "customer_request"}
    assert len(keys) == 120
    assert {e.entity.key for e in incremental if e.entity.kind == "customer_request"} == {
        f"intercom-{conversations[5]['id']}",
        f"intercom-{conversations[9]['id']}",
    }
    assert final[-1]["since"] == later + 1
    assert len({e.entity.key for e in resumed if e.entity.kind == "customer_request"}) == 70


def test_state_changes_companies_teams_and_jira_links() -> None:
    """Closures come at their own times; companies become accounts with ARR from monthly
    spend; team 55 is platform; jira_ tags link work items."""
    conversations, companies = generate_conversations(40)
    with IntercomEmulator(conversations, companies) as ic:
        ic.throttle_next = 1
        events, _ = pull_pages(connector(ic))
    entities = replay((e, None) for e in events)
    closed = [c for c in conversations if c["state"] == "closed"]
    index = WorkIndex(entities, datetime(2027, 1, 1, tzinfo=UTC))
    view = request_view(
        entities["customer_request"][f"intercom-{closed[0]['id']}"], entities, index
    )
    assert view["stage"] == "closed"
    assert view["closed_at"] == datetime.fromtimestamp(
        closed[0]["statistics"]["last_close_at"], UTC
    ).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert view["arr"] is not None and view["account_name"].startswith("Company")
    assert any(e.type == "customer_request.escalated" for e in events)
    assert any(e.type == "customer_request.linked" for e in events)


def test_the_real_sample_maps_without_dead_letters() -> None:
    """Every conversation in the recorded search response maps."""
    sample = json.loads(SAMPLE.read_text())
    with IntercomEmulator(sample["conversations"]) as ic:
        events, _ = pull_pages(connector(ic))
    assert len({e.entity.key for e in events}) == len(sample["conversations"])
    settings = IntercomSettings(access_token="${env:X}")
    assert all(
        map_conversation(connector_event(), c, None, settings) for c in sample["conversations"]
    )


def connector_event() -> Any:
    with IntercomEmulator([]) as ic:
        return connector(ic).event


def test_team_from_team_assignee_then_admin_then_tag() -> None:
    """An assigned Intercom team wins; otherwise the assigned admin's team; otherwise a tag's."""
    conversation = generate_conversations(2)[0][1]  # no team assignee
    conversation["admin_assignee_id"] = 7
    settings = IntercomSettings(
        access_token="${env:X}", admin_teams={"7": "care"}, tag_teams={"vip": "sales"}
    )
    events = map_conversation(connector_event(), conversation, None, settings)
    assert [e.payload.team for e in events if e.type == "customer_request.escalated"] == ["care"]  # type: ignore[union-attr]


def test_without_statistics_closures_come_from_the_close_parts_paged_past_one_answer() -> None:
    """A conversation with no statistics is read back; its close part (on the second page
    of parts) gives the closure time, and a reopen in between is kept."""
    conversations, companies = generate_conversations(3)
    target = conversations[0]
    target.update(statistics=None, state="open", open=True)
    created = int(target["created_at"])
    with IntercomEmulator(conversations, companies) as ic:
        ic.parts_page_size = 2
        ic.add_part(target["id"], "comment", created + 60)
        ic.add_part(target["id"], "close", created + 120)
        ic.add_part(target["id"], "open", created + 180)
        ic.add_part(target["id"], "comment", created + 240)
        ic.add_part(target["id"], "close", created + 300)
        events = [e for page in connector(ic).pull(None) for e in page.events]
        reads = [r for r in ic.requests if r.path == f"/conversations/{target['id']}"]
    assert len(reads) == 3  # five parts, two an answer
    key = f"intercom-{target['id']}"
    state = replay((e, None) for e in events)["customer_request"][key]
    assert state["closed_at"] == iso(datetime.fromtimestamp(created + 300, UTC))
    moves = [(s["to"], s["at"]) for s in state["statuses"]]
    assert [m[0] for m in moves[:3]] == ["closed", "open", "closed"]


def test_a_conversation_deleted_before_it_is_read_back_closes_and_the_sync_goes_on() -> None:
    """404 on the read-back closes that conversation as deleted; the others still map."""
    conversations, companies = generate_conversations(4)
    for conversation in conversations:
        conversation["statistics"] = None
    with IntercomEmulator(conversations, companies) as ic:
        ic.deleted.add(conversations[1]["id"])
        events = [e for page in connector(ic).pull(None) for e in page.events]
    closed = {
        e.entity.key: e.payload.resolution for e in events if e.type == "customer_request.closed"
    }  # type: ignore[union-attr]
    assert closed[f"intercom-{conversations[1]['id']}"] == "deleted"
    opened = {e.entity.key for e in events if e.type == "customer_request.opened"}
    assert len(opened) == 4


def test_a_conversation_carries_its_opening_message_as_scrubbed_text() -> None:
    """The title and the source message (HTML) become plain text, the phone replaced."""
    conversations, companies = generate_conversations(2)
    conversations[0]["source"]["body"] = "<p>Exports fail.</p><p>Call +44 20 7946 0958</p>"
    with IntercomEmulator(conversations, companies) as ic:
        events, _ = pull_pages(connector(ic))
    opened = {e.entity.key: e.payload for e in events if e.type == "customer_request.opened"}
    text = opened[f"intercom-{conversations[0]['id']}"].text  # type: ignore[union-attr]
    assert text == "Conversation 0\nExports fail.\nCall [phone]"  # title, then the body
