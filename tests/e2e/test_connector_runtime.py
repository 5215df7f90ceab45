"""The connector runtime end to end: real sources on sockets, the embedded broker, the API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from core.topics import CONNECT_CONFIGS, CONNECT_STATUS, DEADLETTER, read_topic
from emulators.canonical_source import CanonicalSource
from hub.broker import free_port
from tests.helpers import HubProcess, event_dict, poll

SECRET = "src-secret-7f3a9c"


def source_events(connector: str, prefix: str, count: int, start: int = 0) -> list[dict[str, Any]]:
    rows = []
    for n in range(start, start + count):
        key = f"{prefix}-{n}"
        rows.append(
            event_dict(
                "work_item.created",
                key,
                "c",
                connector=connector,
                payload={"title": key, "status": "To Do", "status_category": "todo"},
            )
        )
        rows.append(
            event_dict(
                "work_item.status_changed",
                key,
                "s1",
                connector=connector,
                at=__import__("datetime").datetime(2026, 1, 6, tzinfo=__import__("datetime").UTC),
                payload={
                    "from_status": "To Do",
                    "to_status": "Done",
                    "from_category": "todo",
                    "to_category": "done",
                },
            )
        )
    return rows


def log_events(process: HubProcess) -> list[dict[str, Any]]:
    """The process's JSON log lines (the test processes log JSON)."""
    return [json.loads(line) for line in process.log().splitlines() if line.startswith("{")]


def connector_config(name: str, url: str, **settings: Any) -> dict[str, Any]:
    return {
        "type": "canonical_http",
        "poll_interval": "1s",
        "settings": {
            "base_url": url,
            "token": "${env:SRC_TOKEN}",
            "page_size": 10,
            "webhook_secret": "${env:SRC_TOKEN}",
            **settings,
        },
    }


@pytest.fixture(scope="module")
def api(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One worker serving the API for the module, with the source secret in its environment."""
    folder = tmp_path_factory.mktemp("api")
    with HubProcess(
        ["worker"], folder, free_port(), bootstrap=broker, extra_env={"SRC_TOKEN": SECRET}
    ) as worker:
        worker.wait_healthy()
        yield worker
        worker.stop()


def start_connect(broker: str, folder: Path, port: int, **env: str) -> HubProcess:
    return HubProcess(
        ["connect"], folder, port, bootstrap=broker, extra_env={"SRC_TOKEN": SECRET, **env}
    )


def put(api: HubProcess, name: str, body: dict[str, Any]) -> requests.Response:
    return requests.put(
        f"{api.url}/api/v1/connectors/{name}",
        json=body,
        headers={"Authorization": f"Bearer {api.token}"},
        timeout=10,
    )


def call(api: HubProcess, method: str, path: str) -> requests.Response:
    return requests.request(
        method,
        f"{api.url}/api/v1{path}",
        headers={"Authorization": f"Bearer {api.token}"},
        timeout=10,
    )


def wait_done(
    api: HubProcess, prefix: str, count: int, timeout: float = 60
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = [
            r
            for r in api.get("/api/v1/workitems", params={"limit": "1000"}).json()["items"]
            if r["key"].startswith(prefix + "-")
        ]
        if len(rows) >= count and all(r["stage"] == "done" for r in rows):
            return rows
        time.sleep(0.3)
    raise AssertionError(f"{len(rows)} of {count} {prefix} items done")


def wait_status(api: HubProcess, name: str, predicate: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = call(api, "GET", f"/connectors/{name}/status")
        if response.status_code == 200:
            status = response.json()
            if predicate(status):
                return status
        time.sleep(0.3)
    raise AssertionError(f"status never matched: {status}")


def test_backfill_then_incremental_with_dead_letters(
    broker: str, api: HubProcess, tmp_path: Path
) -> None:
    """connectors.yaml applied at start; 25 items backfilled in pages, its count in the
    status and a "backfill done" line on the console; 5 more pulled next poll; a malformed
    record is dead-lettered and the rest flow on."""
    events = source_events("bf", "BF", 25)
    events.insert(7, {"type": "work_item.created", "surprise": True})
    with CanonicalSource(SECRET, events) as source:
        config = tmp_path / "connectors.yaml"
        config.write_text(
            json.dumps({"connectors": [{"name": "bf", **connector_config("bf", source.url)}]})
        )
        with start_connect(
            broker, tmp_path, free_port(), HUB_CONNECTORS_FILE=str(config)
        ) as connect:
            wait_done(api, "BF", 25)
            status = wait_status(api, "bf", lambda s: s.get("events_produced_total") == 50)
            assert status["state"] == "RUNNING" and status["cursor"] == {"after": "51"}
            assert status["dead_lettered_total"] == 1
            backfill = status["backfill"]
            assert backfill["done"] and (backfill["events"], backfill["pages"]) == (50, 6)
            done = poll(
                lambda: [e for e in log_events(connect) if e["event"] == "backfill done"],
                15,
                "the backfill's line",
                connect.log_path,
            )
            assert [(e["connector"], e["events"]) for e in done] == [("bf", 50)]
            metrics = api.get("/metrics", token=None).text
            assert 'hub_connector_events_produced_total{connector="bf"} 50.0' in metrics
            assert 'hub_connector_running{connector="bf"} 1.0' in metrics
            source.events.extend(source_events("bf", "BF", 5, start=25))
            wait_done(api, "BF", 30)
            connect.stop()
        pages = [r for r in source.requests if r.path == "/events"]
        assert pages[0].query.get("after") is None and pages[1].query["after"] == "10"
    letters = [json.loads(v) for _, v in read_topic(broker, DEADLETTER.name)]
    mine = [d for d in letters if d["origin"] == "connector:bf"]
    assert len(mine) == 1 and "unknown event type" not in mine[0]["error"]
    assert '"surprise": true' in mine[0]["raw"]


def test_crash_between_produce_and_commit_loses_nothing(
    broker: str, api: HubProcess, tmp_path: Path
) -> None:
    """The runtime dies after producing page 2 but before committing its cursor; on restart it
    re-pulls page 2, and the folds ignore the repeats: every item once, every transition once;
    the resumed backfill counts every event once."""
    with CanonicalSource(SECRET, source_events("crash", "CR", 15)) as source:
        assert put(api, "crash", connector_config("crash", source.url)).status_code == 201
        with start_connect(
            broker, tmp_path, free_port(), HUB_FAULT_CRASH_AFTER_PAGES="2"
        ) as connect:
            connect.process.wait(60)
            assert connect.process.returncode == 137
        # page 1 committed; page 2 produced, never committed
        wait_status(api, "crash", lambda s: s["cursor"] == {"after": "10"})
        with start_connect(broker, tmp_path / "again", free_port()) as connect:
            rows = wait_done(api, "CR", 15)
            status = wait_status(api, "crash", lambda s: s.get("backfill", {}).get("done"))
            connect.stop()
        # the backfill resumed from the committed page's count: every event counted once
        assert (status["backfill"]["events"], status["backfill"]["pages"]) == (30, 3)
    for row in rows:
        detail = api.get(f"/api/v1/workitems/{row['key']}").json()
        assert [s["status"] for s in detail["timeline"]] == ["To Do", "Done"], row["key"]
    assert "hub_events_duplicate_total" in api.get("/metrics", token=None).text


def test_rest_controls_validation_and_secrets(broker: str, api: HubProcess, tmp_path: Path) -> None:
    """Pause stops polling, resume restarts it, a cursor reset backfills again without double
    counting; validation names fields; the secret appears nowhere: API, logs or topics."""
    with (
        CanonicalSource(SECRET, source_events("ctl", "CT", 5)) as source,
        start_connect(broker, tmp_path, free_port()) as connect,
    ):
        body = connector_config("ctl", source.url)
        assert put(api, "ctl", body).status_code == 201
        assert put(api, "ctl", body).status_code == 200
        wait_done(api, "CT", 5)
        assert call(api, "PUT", "/connectors/ctl/pause").status_code == 202
        wait_status(api, "ctl", lambda s: s["state"] == "PAUSED")
        source.events.extend(source_events("ctl", "CT", 3, start=5))
        time.sleep(2.5)
        assert (
            len(
                [
                    r
                    for r in api.get("/api/v1/workitems", params={"limit": "1000"}).json()["items"]
                    if r["key"].startswith("CT-")
                ]
            )
            == 5
        )
        call(api, "PUT", "/connectors/ctl/resume")
        wait_done(api, "CT", 8)
        before = wait_status(api, "ctl", lambda s: s.get("events_produced_total") == 16)
        assert call(api, "DELETE", "/connectors/ctl/cursor").status_code == 202
        after = wait_status(api, "ctl", lambda s: s.get("events_produced_total") == 32)
        assert after["cursor"] == before["cursor"] == {"after": "16"}
        assert len(wait_done(api, "CT", 8)) == 8
        assert call(api, "POST", "/connectors/ctl/restart").status_code == 202

        shown = call(api, "GET", "/connectors/ctl").json()
        assert shown["settings"]["token"] == "${env:SRC_TOKEN}"
        invalid = put(
            api,
            "ctl",
            {"type": "canonical_http", "settings": {"base_url": source.url, "token": SECRET}},
        )
        assert invalid.status_code == 400
        assert invalid.json()["error"]["fields"][0]["field"] == "settings.token"
        assert SECRET not in invalid.text
        check = call(api, "POST", "/connector-types/canonical_http/validate")
        assert check.status_code == 400  # no body
        live = requests.post(
            f"{api.url}/api/v1/connector-types/canonical_http/validate",
            json={"settings": {"base_url": source.url, "token": "${env:WRONG}"}},
            headers={"Authorization": f"Bearer {api.token}"},
            timeout=10,
        ).json()
        assert live["valid"] is False and live["errors"][0]["field"] == "settings.token"
        good = requests.post(
            f"{api.url}/api/v1/connector-types/canonical_http/validate",
            json=connector_config("v", source.url),
            headers={"Authorization": f"Bearer {api.token}"},
            timeout=10,
        ).json()
        assert good == {"valid": True, "errors": []}
        assert call(api, "DELETE", "/connectors/ctl").status_code == 200
        assert call(api, "GET", "/connectors/ctl").status_code == 404
        connect.stop()
        for text in (connect.log(), api.log()):
            assert SECRET not in text
    for topic in (CONNECT_CONFIGS.name, CONNECT_STATUS.name, DEADLETTER.name):
        assert all(SECRET.encode() not in (v or b"") for _, v in read_topic(broker, topic))


def test_rate_budget_and_429s_are_respected(broker: str, api: HubProcess, tmp_path: Path) -> None:
    """At 2 requests/s (burst 2) a 12-page backfill spreads out; 429s with Retry-After are waited."""
    with CanonicalSource(SECRET, source_events("rate", "RT", 60)) as source:
        source.throttle_next, source.retry_after = 2, "1"
        assert (
            put(
                api, "rate", connector_config("rate", source.url, requests_per_second=2)
            ).status_code
            == 201
        )
        with start_connect(broker, tmp_path, free_port()) as connect:
            wait_done(api, "RT", 60, timeout=90)
            connect.stop()
    times = [r.at for r in source.requests if r.path == "/events"][:15]
    for index in range(len(times) - 4):
        assert times[index + 4] - times[index] >= 1.4, "more than ~2 requests/s"
    throttled = [r for r in source.requests if r.path == "/events"][:3]
    assert throttled[2].at - throttled[0].at >= 1.9  # two Retry-After: 1 waits


def test_webhooks_are_verified_and_count_once_with_pull(
    broker: str, api: HubProcess, tmp_path: Path
) -> None:
    """A signed delivery is produced; forged and replayed ones get 401; the same change seen by
    webhook and by pull is one event (same id)."""
    events = source_events("wh", "WH", 1)
    with CanonicalSource(SECRET, []) as source:
        assert put(api, "wh", connector_config("wh", source.url)).status_code == 201
        body = CanonicalSource.webhook_body(events)
        signed = {"X-Hub-Signature": CanonicalSource.sign(SECRET, body)}
        url = f"{api.url}/webhooks/wh"
        deadline = time.monotonic() + 10
        while requests.post(url, data=body, headers=signed, timeout=10).status_code == 404:
            assert time.monotonic() < deadline
            time.sleep(0.2)  # the worker has not read the new config yet
        assert requests.post(url, data=body, headers=signed, timeout=10).status_code == 401
        forged = requests.post(
            url, data=body, headers={"X-Hub-Signature": "sha256=beef"}, timeout=10
        )
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_signature"
        unsigned = requests.post(url, data=body, timeout=10)
        assert unsigned.status_code == 401
        wait_done(api, "WH", 1)
        source.events.extend(events)  # the pull path now sees the same change
        with start_connect(broker, tmp_path, free_port()) as connect:
            wait_status(api, "wh", lambda s: s.get("events_produced_total") == 2)
            connect.stop()
    detail = api.get("/api/v1/workitems/WH-0").json()
    assert [s["status"] for s in detail["timeline"]] == ["To Do", "Done"]


def test_sync_once_prints_events_without_a_broker(tmp_path: Path) -> None:
    """`hub sync --config FILE --once --output -` pulls and prints JSON lines; cursor on stderr."""
    with CanonicalSource(SECRET, source_events("cli", "CLI", 3)) as source:
        config = tmp_path / "one.yaml"
        config.write_text(json.dumps({"name": "cli", **connector_config("cli", source.url)}))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "hub",
                "sync",
                "--config",
                str(config),
                "--once",
                "--output",
                "-",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                "PATH": "/usr/bin:/bin",
                "SRC_TOKEN": SECRET,
                "HUB_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
            },
        )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["entity"]["key"] for e in lines][:2] == ["CLI-0", "CLI-0"] and len(lines) == 6
    assert '{"cursor": {"after": "6"}}' in done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_a_source_warning_reaches_the_status_and_metrics(
    broker: str, api: HubProcess, tmp_path: Path
) -> None:
    """A Jira whose configured story points field is gone syncs on, and says so: the
    warning is on the connector's status and counted on /metrics."""
    from emulators.jira import JiraEmulator, generate_project

    with JiraEmulator(generate_project(3), token=SECRET) as jira:
        jira.fields = [f for f in jira.fields if f["id"] != "customfield_10016"]
        config = {
            "type": "jira",
            "poll_interval": "1s",
            "settings": {
                "base_url": jira.url,
                "email": jira.email,
                "api_token": "${env:SRC_TOKEN}",
                "story_points_field": "customfield_10016",
            },
        }
        assert put(api, "drift", config).status_code == 201
        with start_connect(broker, tmp_path, free_port()) as connect:
            status = wait_status(api, "drift", lambda s: s.get("last_success_at") is not None)
            connect.stop()
    assert status["state"] == "RUNNING"
    assert len(status["warnings"]) == 1 and "customfield_10016" in status["warnings"][0]
    assert 'hub_connector_warnings{connector="drift"} 1.0' in api.get("/metrics", token=None).text
