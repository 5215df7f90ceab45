"""``hub up`` as a user runs it: one process tree, healthy, serving, and gone on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from hub.broker import free_port
from tests.helpers import HubProcess, alive, descendants, event_dict, write_jsonl


def test_hub_up_serves_health_events_and_stops_cleanly(tmp_path: Path) -> None:
    """Embedded broker + worker + API come up, fold published events, and SIGTERM leaves no process."""
    with HubProcess(["up"], tmp_path, free_port()) as hub:
        health = hub.wait_healthy(timeout=60)
        assert health["broker"]["reachable"] is True
        assert set(health["lag"]) == {"hub.workitems", "hub.customers", "hub.roadmap"}
        children = descendants(hub.process.pid)
        assert len(children) >= 2, "expected the broker and a worker below hub up"

        events = write_jsonl(
            tmp_path / "events.jsonl",
            [
                event_dict("work_item.created", "UP-1", "1", payload={"title": "x"}),
                event_dict("team.defined", "core", "1", payload={"name": "Core"}),
            ],
        )
        env = {"HUB_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
        published = subprocess.run(
            [sys.executable, "-m", "hub", "publish", str(events)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert published.returncode == 0, published.stderr
        assert "published 2 event(s)" in published.stdout

        item = hub.wait_for("/api/v1/workitems/UP-1")
        assert item["title"] == "x" and item["stage"] is None
        teams = hub.wait_for("/api/v1/teams", lambda body: body["items"])
        assert teams["items"][0]["name"] == "Core"

        took = hub.stop(signal.SIGTERM, timeout=15)
        assert took < 10, f"stopping took {took:.1f}s"
        time.sleep(0.5)
        assert not [pid for pid in children if alive(pid)], "orphans left behind"
        assert not (tmp_path / "broker.json").exists()


def test_hub_up_generates_a_private_token_when_none_is_configured(tmp_path: Path) -> None:
    """Without HUB_API_TOKEN, the token is created 0600 in the data dir and required by /api."""
    with HubProcess(["up"], tmp_path, free_port(), extra_env={"HUB_API_TOKEN": ""}) as hub:
        hub.wait_healthy(timeout=60)
        token_file = tmp_path / "api-token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        assert str(token_file) in hub.log()
        assert token not in hub.log()
        assert hub.get("/api/v1/workitems/NOPE-1", token=None).status_code == 401
        assert hub.get("/api/v1/workitems/NOPE-1", token="wrong").status_code == 401
        assert hub.get("/api/v1/workitems/NOPE-1", token=token).status_code == 404
        hub.stop()
