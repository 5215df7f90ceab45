"""An alert receiver that is down for the whole incident: once it is back, it hears about
the incident exactly once (firing, then resolved), and the failures were visible."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from core.publish import SyncPublisher
from emulators.http_server import EmulatorServer, Reply
from hub.broker import free_port
from tests.builders import finish, item, start
from tests.helpers import HubProcess, alerting_config, own_broker

pytestmark = pytest.mark.broker


def test_a_receiver_down_for_the_whole_incident_gets_it_once_when_back(tmp_path: Path) -> None:
    """A receiver that is down through a whole incident gets its notification exactly once when it
    is back.
    """
    state = {"up": False}
    accepted: list[dict[str, Any]] = []

    def receiver(request: Any) -> Reply:
        if not state["up"]:
            return Reply(503, {"error": "maintenance"})
        accepted.append(request.json())
        return Reply(200, {})

    def heard(team: str) -> list[tuple[str, list[str]]]:
        return [
            (b["status"], [a["status"] for a in b["alerts"]])
            for b in accepted
            if b["commonLabels"].get("team") == team
        ]

    team = f"ops-{uuid.uuid4().hex[:6]}"
    with own_broker() as broker, EmulatorServer({("POST", "/alerts"): receiver}) as hook:
        config = alerting_config(
            tmp_path / "alerting.yaml",
            hook.url,
            delivery={"backoff_initial": "200ms", "backoff_max": "1s"},
        )
        env = {"HUB_ALERTING_FILE": str(config)}
        with HubProcess(
            ["worker"], tmp_path, free_port(), bootstrap=broker.bootstrap_servers, extra_env=env
        ) as worker:
            worker.wait_healthy()
            roadmap = f"teams: {{{team}: {{capacity_fte: 2, wip_limit: 1}}}}\nitems: []\n"
            put = requests.put(
                worker.url + "/api/v1/roadmap",
                data=roadmap,
                headers={"Authorization": f"Bearer {worker.token}"},
                timeout=10,
            )
            assert put.status_code == 200, put.text
            now = datetime.now(UTC)
            with SyncPublisher(broker.bootstrap_servers, origin="test") as producer:
                producer.publish_events(
                    [
                        item("DOWN-1", now - timedelta(hours=2), team=team),
                        item("DOWN-2", now - timedelta(hours=2), team=team),
                        start("DOWN-1", now - timedelta(hours=1)),
                        start("DOWN-2", now - timedelta(hours=1)),
                    ]
                )
            worker.wait_for(f"/api/v1/alerts?state=firing&team={team}", lambda b: b["items"], 40)
            worker.wait_for(
                "/api/v1/notifications?status=retrying",
                lambda b: any(
                    team in r["key"] and "HTTP 503" in r["last_error"] for r in b["items"]
                ),
            )
            with SyncPublisher(broker.bootstrap_servers, origin="test") as producer:
                producer.publish_events([finish("DOWN-1", now)])
            worker.wait_for(f"/api/v1/alerts?state=resolved&team={team}", lambda b: b["items"], 40)
            time.sleep(3)  # the incident is over; the receiver has heard nothing
            assert heard(team) == []

            state["up"] = True
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and len(heard(team)) < 2:
                time.sleep(0.3)
            time.sleep(5)  # and nothing more comes
            assert heard(team) == [("firing", ["firing"]), ("resolved", ["resolved"])]
            worker.stop()
