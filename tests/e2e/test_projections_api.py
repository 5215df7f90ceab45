"""Projections end to end: publish a generated organisation, query the API, compare with the
pure folds; then kill -9 the worker mid-stream and check the answers are the same."""

from __future__ import annotations

import csv
import io
import json
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.events import Event, iso
from core.publish import SyncPublisher
from hub.broker import free_port
from projections.flow import cycle_time_report
from projections.investment import categorize, policy_at, team_investment
from projections.replay import replay
from projections.resources import roadmap_owner, weekly_allocation
from projections.rollups import WorkIndex, roadmap_item_view
from projections.sprints import sprint_reports
from projections.tracking import TRACKING_KEY
from tests.helpers import HubProcess, hub_cli, metric_total, own_broker
from tests.scenarios import SPRINT_START, organisation, sprint_events

STABLE = (
    "status",
    "stage",
    "started_at",
    "done_at",
    "cycle_time_seconds",
    "lead_time_seconds",
    "reopen_count",
    "roadmap_item",
    "parent",
    "team",
    "estimate",
)


def expected(events: list[Any]) -> tuple[dict[str, Any], WorkIndex]:
    entities = replay((e, None) for e in events)
    return entities, WorkIndex(entities, datetime.now(UTC))


def all_items(hub: HubProcess, path: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        query = {"limit": "50", **({"cursor": cursor} if cursor else {})}
        body = hub.get(path, params=query).json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def folded_events(hub: HubProcess) -> float:
    return metric_total(hub, "hub_events_folded_total")


def duplicate_events(hub: HubProcess) -> float:
    return metric_total(hub, "hub_events_duplicate_total")


def wait_caught_up(hub: HubProcess, count: int, prefix: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = all_items(hub, "/api/v1/workitems")
        done = [i for i in items if i["key"].startswith(prefix) and i["stage"] == "done"]
        if len(done) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"only {len(done)} of {count} done\n{hub.log()[-2000:]}")


def check_against_folds(hub: HubProcess, events: list[Any], prefix: str) -> None:
    entities, index = expected(events)
    served = {
        i["key"]: i for i in all_items(hub, "/api/v1/workitems") if i["key"].startswith(prefix)
    }
    assert served.keys() == {k for k in index.views}
    for key, view in index.views.items():
        assert {f: served[key][f] for f in STABLE} == {f: view[f] for f in STABLE}, key
    for roadmap_id in entities["roadmap_item"]:
        want = roadmap_item_view(roadmap_id, entities, index)
        got = hub.get(f"/api/v1/roadmap/items/{roadmap_id}").json()
        assert want is not None
        for field in ("progress", "scope", "demand", "stage", "work_items", "started_at"):
            assert got[field] == want[field], (roadmap_id, field)


def check_delivery_analytics(hub: HubProcess, events: list[Event]) -> None:
    """Sprints, flow and investment answers equal the pure projections' over the same log;
    list operations answer CSV with the next page in a Link header; others refuse CSV."""
    entities, index = expected(events)
    window = {"from": "2026-02-02T00:00:00Z", "to": "2026-03-30T00:00:00Z"}
    start, end = datetime(2026, 2, 2, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC)
    (want,) = sprint_reports(entities, index, datetime.now(UTC))
    got = hub.get("/api/v1/sprints/jira-sprint-900").json()
    assert got["items"] == want["items"] and got["numbers"] == want["numbers"]
    assert want["items"]["removed"] == ["API-2"] and want["items"]["added"] == ["API-9"]
    listed = hub.get("/api/v1/sprints", params={"state": "closed"}).json()["items"]
    assert [s["key"] for s in listed] == ["jira-sprint-900"]
    during = SPRINT_START + timedelta(days=5)
    back = hub.get("/api/v1/sprints/jira-sprint-900", params={"as_of": iso(during)})
    assert back.status_code == 404  # the sprint was first seen after it closed
    team = "api-team-0"  # one team: the session's broker holds other tests' work too
    mine = {**window, "period": "week", "team": team}
    cycle = hub.get("/api/v1/flow/cycle-time", params=mine).json()
    assert cycle == cycle_time_report(index, start, end, period="week", team=team)
    moment = datetime(2026, 2, 10, tzinfo=UTC)  # time travel: the distribution as it stood
    then = replay(((e, None) for e in events), until=moment)
    past = hub.get(
        "/api/v1/flow/cycle-time",
        params={"as_of": iso(moment), "from": window["from"], "team": team},
    ).json()
    assert past == cycle_time_report(WorkIndex(then, moment), start, moment, team=team)
    assert past["overall"]["count"] < cycle["overall"]["count"]
    mix = hub.get(f"/api/v1/teams/{team}/investment", params=window).json()
    shares = weekly_allocation(entities, index, start, end)
    policy = policy_at(entities)
    categories = categorize(index, roadmap_owner(entities, index), policy)
    assert mix["weeks"] == team_investment(
        team, entities, index, start, end, shares=shares, policy=policy, categories=categories
    )
    table = hub.get("/api/v1/workitems", params={"limit": "5"}, headers={"Accept": "text/csv"})
    assert table.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    page = hub.get("/api/v1/workitems", params={"limit": "5"}).json()
    assert [r["key"] for r in rows] == [i["key"] for i in page["items"]]
    assert rows[0]["team"] == page["items"][0]["team"] and "cursor=" in table.headers["Link"]
    refused = hub.get("/api/v1/workitems/API-1", headers={"Accept": "text/csv"})
    assert refused.status_code == 406 and refused.json()["error"]["code"] == "not_acceptable"


def test_api_answers_match_the_pure_folds(broker: str, tmp_path: Path) -> None:
    """300 generated items: every list row, detail and roadmap rollup equals the folds' answer;
    so do the delivery analytics (sprints, flow, investment), also as CSV."""
    events = organisation(300, seed=1, prefix="API") + sprint_events("API")
    with HubProcess(["worker"], tmp_path, free_port(), bootstrap=broker) as worker:
        worker.wait_healthy()
        with SyncPublisher(broker, origin="test") as producer:
            producer.publish_events(events)
        wait_caught_up(worker, 300 + 0, "API-")
        check_against_folds(worker, events, "API-")
        check_delivery_analytics(worker, events)

        detail = worker.get("/api/v1/workitems/API-7").json()
        assert [s["status"] for s in detail["timeline"]] == [
            "To Do",
            "In Progress",
            "In Review",
            "Done",
        ]
        team = worker.get(
            "/api/v1/teams/api-team-0/resources",
            params={"from": "2026-02-02T00:00:00Z", "to": "2026-03-02T00:00:00Z"},
        ).json()
        assert len(team["weeks"]) == 4 and sum(w["throughput"] for w in team["weeks"]) > 0
        first = worker.get("/api/v1/workitems", params={"limit": "5", "team": "api-team-1"}).json()
        assert len(first["items"]) == 5 and first["next_cursor"]
        assert all(i["team"] == "api-team-1" for i in first["items"])
        worker.stop()


def test_time_travel_shows_the_item_as_it_stood(broker: str, tmp_path: Path) -> None:
    """as_of rebuilds from the log: before its first transition an item was still To Do;
    an as_of still to come reads the live model with that clock."""
    events = organisation(20, seed=2, prefix="TT")
    first_move = min(
        e.occurred_at
        for e in events
        if e.entity.key == "TT-3" and e.type == "work_item.status_changed"
    )
    with HubProcess(["worker"], tmp_path, free_port(), bootstrap=broker) as worker:
        worker.wait_healthy()
        with SyncPublisher(broker, origin="test") as producer:
            producer.publish_events(events)
        worker.wait_for("/api/v1/workitems/TT-3", lambda b: b["stage"] == "done")
        before = worker.get(
            "/api/v1/workitems/TT-3", params={"as_of": first_move.isoformat()[:-6] + "Z"}
        )
        assert before.status_code == 200, before.text
        assert before.json()["stage"] in ("todo", "in_progress")
        early = worker.get("/api/v1/workitems/TT-3", params={"as_of": "2020-01-01T00:00:00Z"})
        assert early.status_code == 404
        later = worker.get("/api/v1/workitems/TT-3", params={"as_of": "2999-01-01T00:00:00Z"})
        assert later.json()["stage"] == "done"  # not yet happened: the live model, that clock
        naive = worker.get("/api/v1/workitems/TT-3", params={"as_of": "2026-01-01T00:00:00"})
        assert naive.status_code == 400 and "time zone" in naive.json()["error"]["message"]
        worker.stop()


def send_paced(broker: str, events: list[Event], chunk: int = 100) -> None:
    """About 1,000 events a second: a few seconds of a live stream."""
    with SyncPublisher(broker, origin="test") as producer:
        for start in range(0, len(events), chunk):
            producer.publish_events(events[start : start + chunk])
            time.sleep(0.1)


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_a_worker_killed_mid_stream_recovers_to_the_same_answer(tmp_path: Path, store: str) -> None:
    """SIGKILL while folding, restart with the same state dir: nothing lost, nothing doubled.
    With RocksDB (the production default) the restarted worker also keeps its local store."""
    with own_broker() as running:  # its own log: the folded count is this stream's alone
        broker = running.bootstrap_servers
        prefix = "KILL"
        events = organisation(1500, seed=3, prefix=prefix)
        port = free_port()
        app_id = {"HUB_APP_ID": "kill-test", "HUB_STORE": store}
        with HubProcess(["worker"], tmp_path, port, bootstrap=broker, extra_env=app_id) as worker:
            worker.wait_healthy()
            # Sources keep producing while the worker folds, so the kill lands mid-stream.
            sending = threading.Thread(target=send_paced, args=(broker, events))
            sending.start()
            deadline = time.monotonic() + 60
            folded = 0.0
            while time.monotonic() < deadline and folded < 500:
                folded = folded_events(worker)
                time.sleep(0.02)
            worker.stop(signal.SIGKILL)
            sending.join()
            assert 500 <= folded < len(events), f"the kill should land mid-stream ({folded} folded)"
        with HubProcess(["worker"], tmp_path, port, bootstrap=broker, extra_env=app_id) as worker:
            worker.wait_healthy()
            wait_caught_up(worker, 1500, f"{prefix}-")
            check_against_folds(worker, events, f"{prefix}-")
            worker.stop()


def test_hub_replay_rebuilds_from_the_log_and_apply_feeds_the_workers(tmp_path: Path) -> None:
    """``hub replay`` folds the whole log with a progress bar and can write every state
    out; ``--apply`` (workers stopped) writes them to the table's changelog, and a worker
    started afterwards serves them, re-reading the log without counting anything twice
    (the rebuilt states carry their log positions)."""
    with own_broker() as running:
        broker = running.bootstrap_servers
        events = organisation(200, seed=5, prefix="RP")
        with SyncPublisher(broker, origin="test") as producer:
            producer.publish_events(events)
        env = {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": broker,
            "HUB_APP_ID": "replay-test",
            "HUB_DATA_DIR": str(tmp_path / "cli"),
        }
        out = tmp_path / "states.jsonl"
        done = hub_cli("replay", "--out", str(out), env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"replayed {len(events)} event(s)")
        assert "replaying" in done.stderr  # the progress bar
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        want, _ = expected(events)
        rebuilt: dict[str, dict[str, Any]] = {}
        for row in rows:
            rebuilt.setdefault(row["kind"], {})[row["key"]] = row["state"]
        assert rebuilt.keys() == want.keys()
        for kind, states in want.items():
            assert rebuilt[kind].keys() == states.keys(), kind
            for key, state in states.items():
                got = {k: v for k, v in rebuilt[kind][key].items() if k != TRACKING_KEY}
                assert got == {k: v for k, v in state.items() if k != TRACKING_KEY}, key

        applied = hub_cli("replay", "--apply", "--force", env=env)
        assert applied.returncode == 0, applied.stderr
        assert f"wrote {len(rows)} rebuilt state(s)" in applied.stdout
        extra = {"HUB_APP_ID": "replay-test"}
        with HubProcess(
            ["worker"], tmp_path, free_port(), bootstrap=broker, extra_env=extra
        ) as hub:
            hub.wait_healthy()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and folded_events(hub) < len(events):
                time.sleep(0.2)
            assert folded_events(hub) == len(events)
            assert duplicate_events(hub) == len(events)  # all already in the rebuilt table
            check_against_folds(hub, events, "RP-")
            hub.stop()
