"""A worker against the session's embedded broker: publish, fold, query, dead-letter, metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.publish import SyncPublisher
from core.topics import DEADLETTER, WORKITEMS, read_topic
from hub.broker import free_port
from tests.helpers import HubProcess, event_dict, write_jsonl


def test_published_events_are_folded_and_bad_records_dead_lettered(
    broker: str, tmp_path: Path
) -> None:
    """Valid events reach the API; a garbage record goes to hub.deadletter with its reason; the rest flows."""
    with HubProcess(["worker"], tmp_path, free_port(), bootstrap=broker) as worker:
        worker.wait_healthy()
        with SyncPublisher(broker, origin="test") as producer:
            producer.publish(
                [(WORKITEMS.name, "work_item/PIPE-0", b'{"type": "work_item.created"')]
            )
        rows = [
            event_dict("work_item.created", "PIPE-1", "1", payload={"title": "a"}),
            event_dict(
                "work_item.status_changed",
                "PIPE-1",
                "2",
                payload={"to_status": "In Progress", "to_category": "in_progress"},
            ),
            event_dict("customer_account.upserted", "acme", "1", payload={"name": "Acme"}),
        ]
        path = write_jsonl(tmp_path / "events.jsonl", rows + rows[:1])  # one duplicate line
        env = {"HUB_KAFKA_BOOTSTRAP_SERVERS": broker, "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [sys.executable, "-m", "hub", "publish", str(path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

        item = worker.wait_for("/api/v1/workitems/PIPE-1", lambda b: b["stage"] == "in_progress")
        assert item["title"] == "a" and "_tracking" not in item
        worker.wait_for("/api/v1/customers/acme/requests")

        dead = [json.loads(v) for _, v in read_topic(broker, DEADLETTER.name)]
        mine = [d for d in dead if d["raw"] == '{"type": "work_item.created"']
        assert mine, dead
        assert mine[0]["origin"] == "worker" and mine[0]["error"].startswith("not JSON")
        assert mine[0]["context"]["topic"] == WORKITEMS.name

        metrics = worker.get("/metrics", token=None).text
        assert 'hub_events_folded_total{topic="hub.workitems"}' in metrics
        assert "hub_events_duplicate_total" in metrics
        assert 'hub_records_produced_total{origin="worker",topic="hub.deadletter"} 1.0' in metrics
        assert "hub_api_request_seconds_bucket" in metrics

        bad = worker.get("/api/v1/workitems?stage=sleeping")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_parameter"
        missing = worker.get("/api/v1/nothing-here")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        worker.stop()


def test_publish_refuses_a_file_with_any_invalid_line(broker: str, tmp_path: Path) -> None:
    """Invalid lines are reported with their numbers and nothing at all is produced."""
    good = event_dict("work_item.created", "NOPE-1", "1")
    bad = {**good, "occurred_at": "2026-01-01T00:00:00"}
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n{oops\n")
    env = {"HUB_KAFKA_BOOTSTRAP_SERVERS": broker, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "hub", "publish", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "line 3: invalid work_item.created event: occurred_at" in done.stderr
    assert "line 4: not JSON" in done.stderr
    keys = [k for k, _ in read_topic(broker, WORKITEMS.name)]
    assert b"work_item/NOPE-1" not in keys
