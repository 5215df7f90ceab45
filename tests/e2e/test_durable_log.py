"""The durable embedded default: ``hub up`` keeps the whole log under HUB_DATA_DIR.

A real Jira emulator (outside the hub's process tree, so its ground truth survives every
stop) feeds ``hub up`` on the durable embedded broker; the tests stop it cleanly, kill
the whole tree with SIGKILL mid-backfill, back it up and restore it elsewhere, and check
what comes back against the emulator and against what the API said before.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from emulators.http_server import EmulatorServer, Reply
from emulators.jira import JiraEmulator, generate_project
from hub.broker import free_port
from hub.data_dir import DataDir
from tests.helpers import HubProcess, alerting_config, alive, descendants, hub_cli, poll, posted

# as a user runs it: the default app id, the same across restarts
DURABLE = {
    "HUB_EMBEDDED_STORAGE": "durable",
    "HUB_STORE": "rocksdb://",
    "HUB_APP_ID": "product-ops-hub",
}
TOKEN = "jira-t0ken-durable"


@pytest.fixture
def receiver() -> Iterator[EmulatorServer]:
    with EmulatorServer({("POST", "/alerts"): lambda r: Reply(200, {})}) as server:
        yield server


def _connectors(path: Path, jira: JiraEmulator, team: str, **settings: Any) -> Path:
    config = {
        "connectors": [
            {
                "name": "jira",
                "type": "jira",
                "poll_interval": "1s",
                "settings": {
                    "base_url": jira.url,
                    "email": jira.email,
                    "api_token": "${env:JIRA_TOKEN}",
                    "team_mapping": {"projects": {"GEN": team}},
                    "reconcile_interval_hours": 0,
                    **settings,
                },
            }
        ]
    }
    path.write_text(yaml.safe_dump(config))
    return path


LOUD = ("warning", "error", "critical")


def _up(data: Path, port: int, env: dict[str, str]) -> HubProcess:
    return HubProcess(["up"], data, port, extra_env={**DURABLE, "JIRA_TOKEN": TOKEN, **env})


def _expected(jira: JiraEmulator) -> dict[str, list[str]]:
    """Every issue's statuses in order, as Jira's changelog tells them."""
    truth = {}
    for key, issue in jira.issues.items():
        moves = [
            item
            for h in sorted(issue["changelog"]["histories"], key=lambda h: h["created"])
            for item in h["items"]
            if item["field"] == "status"
        ]
        truth[key] = [moves[0]["fromString"], *(m["toString"] for m in moves)]
    return truth


def _seen(hub: HubProcess, keys: list[str]) -> dict[str, list[str] | None]:
    """Each key's statuses as the API shows them; None for a key it does not know yet."""
    seen: dict[str, list[str] | None] = {}
    for key in keys:
        reply = hub.get(f"/api/v1/workitems/{key}")
        seen[key] = [s["status"] for s in reply.json()["timeline"]] if reply.ok else None
    return seen


def _count(hub: HubProcess) -> int:
    return len(hub.get("/api/v1/workitems", params={"limit": "1000"}).json()["items"])


def _matches_truth(hub: HubProcess, jira: JiraEmulator) -> bool:
    truth = _expected(jira)
    return _count(hub) == len(truth) and _seen(hub, sorted(truth)) == truth


def _assert_truth(hub: HubProcess, jira: JiraEmulator, timeout: float, what: str) -> None:
    """Wait for the hub to show Jira's truth; else fail naming the items that differ."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _matches_truth(hub, jira):
            return
        time.sleep(1)
    truth = _expected(jira)
    seen = _seen(hub, sorted(truth))
    wrong = {k: (seen[k], truth[k]) for k in truth if seen[k] != truth[k]}
    raise AssertionError(
        f"{what}: {_count(hub)} of {len(truth)} items, {len(wrong)} differ "
        f"(seen, truth): {dict(list(wrong.items())[:5])}\n{hub.log()[-3000:]}"
    )


def _kill_tree(hub: HubProcess) -> None:
    """SIGKILL the whole process tree at once: supervisor, broker, object store, workers."""
    tree = {hub.process.pid, *descendants(hub.process.pid)}
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    hub.process.wait(10)
    poll(lambda: not [p for p in tree if alive(p)], 10, "the killed tree to be gone")


def test_kill_9_mid_backfill_loses_nothing_acknowledged_and_counts_nothing_twice(
    tmp_path: Path,
) -> None:
    """The whole tree, broker and object store included, is SIGKILLed while a 240-issue
    backfill is half done; after ``hub up`` again every work item's status and
    transitions equal Jira's, once each; and again after a clean SIGTERM stop and start."""
    team = f"core-{uuid.uuid4().hex[:6]}"
    with JiraEmulator(generate_project(240, histories_per_issue=3, seed=5), token=TOKEN) as jira:
        files = tmp_path / "files"
        files.mkdir()
        # 24 pages at 2 a second: a dozen seconds of backfill to catch half done, even
        # when the worker takes its time to start on a busy machine
        config = _connectors(
            files / "connectors.yaml", jira, team, page_size=10, requests_per_second=2
        )
        env = {"HUB_CONNECTORS_FILE": str(config)}
        data, port = tmp_path / "data", free_port()
        with _up(data, port, env) as hub:
            hub.wait_healthy(timeout=90)
            poll(lambda: 40 <= _count(hub) < 240, 90, "a backfill half done", hub.log_path)
            _kill_tree(hub)
        with _up(data, port, env) as hub:
            hub.wait_healthy(timeout=90)
            _assert_truth(hub, jira, 120, "after kill -9")
            status = hub.get("/api/v1/connectors/jira/status").json()
            assert status["state"] == "RUNNING"
            hub.stop(signal.SIGTERM)
        synced = len(jira.requests)
        with _up(data, port, env) as hub:
            hub.wait_healthy(timeout=90)
            _assert_truth(hub, jira, 60, "after SIGTERM")
            searches = [r for r in jira.requests[synced:] if "search" in r.path]
            assert all("1970" not in r.query["jql"] for r in searches), "a re-backfill"
            hub.stop()


def test_a_restart_keeps_cursors_roadmap_alerts_silences_notifications_and_dead_letters(
    tmp_path: Path, receiver: EmulatorServer
) -> None:
    """Everything that exists only in the log comes back after a clean stop: connectors
    resume from their cursors (no re-backfill), the connector created over the API, the
    roadmap with its history, the firing alert with its history, the silence, the
    notification log (nothing re-sent) and the dead letter, and the restarted hub logs no
    warning. Then a backup, taken while it runs, restored into a fresh data dir answers
    the same."""
    team = f"core-{uuid.uuid4().hex[:6]}"
    issues = generate_project(12, histories_per_issue=2, seed=9)  # all In Progress
    broken = issues[-1]
    del broken["fields"]["status"]  # not mappable: dead-lettered
    with JiraEmulator(issues, token=TOKEN) as jira:
        files = tmp_path / "files"
        files.mkdir()
        env = {
            "HUB_CONNECTORS_FILE": str(_connectors(files / "connectors.yaml", jira, team)),
            "HUB_ALERTING_FILE": str(alerting_config(files / "alerting.yaml", receiver.url)),
        }
        data, port = tmp_path / "data", free_port()
        roadmap = {
            "teams": {team: {"capacity_fte": 3, "wip_limit": 2}},
            "items": [{"id": "checkout", "title": "Checkout", "teams": [team]}],
        }
        with _up(data, port, env) as hub:
            hub.wait_healthy(timeout=90)
            put = _call(hub, "PUT", "/api/v1/roadmap", data=json.dumps(roadmap))
            assert put.status_code == 200, put.text
            roadmap["items"][0]["title"] = "Checkout v2"  # a second plan version
            assert _call(hub, "PUT", "/api/v1/roadmap", data=json.dumps(roadmap)).ok
            extra = {"type": "jira", "poll_interval": "1h", "settings": {
                "base_url": jira.url, "email": jira.email, "api_token": "${env:JIRA_TOKEN}",
                "reconcile_interval_hours": 0, "team_mapping": {"projects": {"GEN": team}},
            }}  # fmt: skip
            assert _call(hub, "PUT", "/api/v1/connectors/jira-api", json=extra).status_code == 201
            silence = _call(
                hub,
                "POST",
                "/api/v1/silences",
                json={
                    "matchers": ['team="nobody"'],
                    "endsAt": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                    "createdBy": "test",
                    "comment": "kept across restarts",
                },
            )
            assert silence.status_code == 201, silence.text
            poll(lambda: posted(receiver, team), 60, "the firing notification", hub.log_path)
            settled = hub.wait_for(  # both alerts firing and told: nothing left to move
                "/api/v1/alerts",
                lambda b: len(b["items"]) == 2 and all(a["state"] == "firing" for a in b["items"]),
            )
            hub.wait_for(
                "/api/v1/notifications?status=delivered",
                lambda b: len(b["items"]) == len(settled["items"]),
            )
            for name in ("jira", "jira-api"):
                hub.wait_for(
                    f"/api/v1/connectors/{name}/status", lambda b: b.get("last_success_at")
                )
            before = _snapshot(hub)
            assert before["alerts"] and before["dead_letters"] == 2  # one per connector
            synced = len(jira.requests)
            hub.stop(signal.SIGTERM)
        notified = len(receiver.requests)
        with _up(data, port, env) as hub:
            hub.wait_healthy(timeout=90)
            hub.wait_for("/api/v1/alerting/status", lambda b: b["last_evaluation"], timeout=60)
            _assert_same(hub, before, 60, "after the restart")
            time.sleep(4)  # two group intervals: a re-sent notification would show
            assert len(receiver.requests) == notified
            searches = [r for r in jira.requests[synced:] if "search" in r.path]
            assert searches and all("1970" not in r.query["jql"] for r in searches)
            loud = [
                line
                for line in hub.log().splitlines()
                if line.startswith("{") and json.loads(line).get("level") in LOUD
            ]
            assert not loud, "\n".join(loud)  # a restart is normal operation: no warnings
            archive = tmp_path / "hub-backup.jsonl.gz"
            backed = hub_cli("backup", str(archive), env={"HUB_DATA_DIR": str(data)})
            assert backed.returncode == 0, backed.stderr
            hub.stop()
        fresh = tmp_path / "restored"
        restored = hub_cli("restore", str(archive), env={"HUB_DATA_DIR": str(fresh)})
        assert restored.returncode == 0, restored.stderr
        again = hub_cli("restore", str(archive), env={"HUB_DATA_DIR": str(fresh)})
        assert again.returncode == 2 and "--replace" in again.stderr
        with _up(fresh, free_port(), env) as hub:
            hub.wait_healthy(timeout=90)
            _assert_same(hub, before, 90, "after the restore")
            hub.stop()


def _call(hub: HubProcess, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {hub.token}"}
    return requests.request(method, hub.url + path, headers=headers, timeout=10, **kw)


def _snapshot(hub: HubProcess) -> dict[str, Any]:
    """What the API answers about everything that lives only in the log."""
    items = hub.get("/api/v1/workitems", params={"limit": "1000"}).json()["items"]
    alerts = hub.get("/api/v1/alerts").json()["items"]
    item = hub.get("/api/v1/roadmap/items/checkout").json()
    return {
        "work_items": sorted((i["key"], i["status"], i["stage"]) for i in items),
        "roadmap": (item.get("title"), item.get("plan_versions")),
        "connectors": sorted(c["name"] for c in hub.get("/api/v1/connectors").json()["items"]),
        "alerts": sorted(
            (a["labels"]["alertname"], a["status"]["state"], a["fingerprint"]) for a in alerts
        ),
        "history": [
            [h["state"] for h in hub.get(f"/api/v1/alerts/{a['fingerprint']}").json()["history"]]
            for a in sorted(alerts, key=lambda a: a["fingerprint"])
        ],
        "silences": [s["comment"] for s in hub.get("/api/v1/silences").json()["items"]],
        "notifications": len(hub.get("/api/v1/notifications").json()["items"]),
        "dead_letters": _dead_letters(hub),
    }


def _assert_same(hub: HubProcess, before: dict[str, Any], timeout: float, what: str) -> None:
    """Wait for the API to answer as it did before; else fail naming what differs."""
    deadline, now = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        now = _snapshot(hub)
        if now == before:
            return
        time.sleep(1)
    assert now is not None
    differ = {k: (now[k], before[k]) for k in before if now[k] != before[k]}
    raise AssertionError(f"{what}, (now, before) differ: {differ}\n{hub.log()[-2000:]}")


def _dead_letters(hub: HubProcess) -> int:
    listed = hub_cli("deadletter", "list", env={"HUB_DATA_DIR": str(hub.data_dir)})
    assert listed.returncode == 0, listed.stderr
    return len([line for line in listed.stdout.splitlines() if line.strip()])


def test_a_second_hub_on_the_same_data_dir_is_refused_with_one_line(tmp_path: Path) -> None:
    """The data dir is locked for the run: a second ``hub up`` says who holds it."""
    with DataDir(tmp_path).open("durable"):
        refused = hub_cli("up", env={"HUB_DATA_DIR": str(tmp_path), **DURABLE})
    assert refused.returncode == 2  # a configuration error
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: another hub is running on the data dir {tmp_path} (pid {os.getpid()})")
    )


def test_a_data_dir_from_a_newer_hub_or_one_that_cannot_be_written_is_refused(
    tmp_path: Path,
) -> None:
    """Written by a newer format, or not a directory at all: one clear line, nothing
    touched."""
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "FORMAT").write_text('{"format": 99}')
    refused = hub_cli("up", env={"HUB_DATA_DIR": str(newer), **DURABLE})
    assert refused.returncode == 2  # a configuration error
    assert "written by a newer hub (format 99" in refused.stderr
    assert (newer / "FORMAT").read_text() == '{"format": 99}'
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    refused = hub_cli("up", env={"HUB_DATA_DIR": str(blocked / "data"), **DURABLE})
    assert refused.returncode == 2  # a configuration error
    assert f"cannot write to the data dir {blocked / 'data'}" in refused.stderr
