"""Alerting end to end: a team drifts and recovers on the embedded broker, notifications go
to a real webhook receiver, and a restart mid-incident sends nothing twice."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from core.publish import SyncPublisher
from core.topics import ensure_topics
from emulators.http_server import EmulatorServer, Reply
from hub.broker import EmbeddedBroker, free_port
from tests.builders import finish, item, start
from tests.helpers import HubProcess, alerting_config, hub_cli, posted

pytestmark = pytest.mark.broker


@pytest.fixture
def receiver() -> Iterator[EmulatorServer]:
    with EmulatorServer({("POST", "/alerts"): lambda r: Reply(200, {})}) as server:
        yield server


@pytest.fixture
def broker() -> Iterator[str]:
    """A broker of this test's own: it applies a whole roadmap, which would remove the
    roadmap items other tests put on a shared one (and its dry run would say so)."""
    with EmbeddedBroker() as running:
        ensure_topics(running.bootstrap_servers, partitions=4, replication=1)
        yield running.bootstrap_servers


def wait_until(check: Any, timeout: float, hub: HubProcess, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen in {timeout}s\n{hub.log()[-4000:]}")


def api(hub: HubProcess, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {hub.token}"}
    return requests.request(method, hub.url + path, headers=headers, timeout=10, **kw)


def test_drift_fires_once_survives_a_restart_and_resolves_once(
    broker: str, tmp_path: Path, receiver: EmulatorServer
) -> None:
    """A planted drift notifies once, a worker restart re-sends nothing, and recovery notifies
    once.
    """
    team = f"core-{uuid.uuid4().hex[:6]}"
    other = f"growth-{uuid.uuid4().hex[:6]}"
    config = alerting_config(tmp_path / "alerting.yaml", receiver.url)
    env = {"HUB_ALERTING_FILE": str(config), "HUB_APP_ID": f"alerts-{uuid.uuid4().hex[:6]}"}
    port = free_port()

    def worker() -> HubProcess:
        return HubProcess(["worker"], tmp_path, port, bootstrap=broker, extra_env=env)

    roadmap = {
        "teams": {
            team: {"capacity_fte": 3, "wip_limit": 1},
            other: {"capacity_fte": 2, "wip_limit": 0},
        },
        "items": [
            {
                "id": f"{team}-checkout",
                "title": "Checkout",
                "teams": [team],
                "links": {"labels": [team]},
            }
        ],
    }
    now = datetime.now(UTC)
    with worker() as hub:
        hub.wait_healthy()
        bad = api(hub, "PUT", "/api/v1/roadmap", data="teams: {x: {capacity_fte: -1}}")
        assert bad.status_code == 422
        assert bad.json()["error"]["fields"][0]["field"] == "teams.x.capacity_fte"
        applied = api(hub, "PUT", "/api/v1/roadmap", data=json.dumps(roadmap)).json()
        assert {c["type"] for c in applied["changes"]} == {"team.defined", "roadmap_item.planned"}
        assert applied["warnings"][0]["message"] == f"no work item carries label '{team}'"
        hub.wait_for("/api/v1/roadmap", lambda b: any(i["title"] == "Checkout" for i in b["items"]))

        # A silence for the other team: its drift must reach no one.
        silence = api(
            hub,
            "POST",
            "/api/v1/silences",
            json={
                "matchers": [f'team="{other}"'],
                "endsAt": (now + timedelta(hours=1)).isoformat(),
                "createdBy": "test",
                "comment": "reorg week",
            },
        )
        assert silence.status_code == 201, silence.text

        with SyncPublisher(broker, origin="test") as producer:
            producer.publish_events(
                [
                    item(f"{team}-1", now - timedelta(hours=2), team=team, labels=[team]),
                    item(f"{team}-2", now - timedelta(hours=2), team=team, labels=[team]),
                    start(f"{team}-1", now - timedelta(hours=1)),
                    start(f"{team}-2", now - timedelta(hours=1)),
                    item(f"{other}-1", now - timedelta(hours=2), team=other),
                    start(f"{other}-1", now - timedelta(hours=1)),
                ]
            )
        wait_until(lambda: posted(receiver, team), 40, hub, "the firing notification")
        firing = hub.wait_for(
            f"/api/v1/alerts?state=firing&team={team}", lambda b: len(b["items"]) == 1
        )["items"][0]
        assert firing["labels"]["alertname"] == "WipOverLimit"
        assert "2 work items in progress" in firing["annotations"]["description"]
        muted = hub.wait_for(f"/api/v1/alerts?state=firing&team={other}", lambda b: b["items"])
        assert muted["items"][0]["status"]["state"] == "suppressed"
        hub.stop()

    # Restart mid-incident: the new worker continues the notification log.
    with worker() as hub:
        hub.wait_healthy()
        hub.wait_for("/api/v1/alerting/status", lambda b: b["last_evaluation"], timeout=30)
        time.sleep(6)  # three group intervals
        assert posted(receiver, team) == [("firing", ["firing"])]

        with SyncPublisher(broker, origin="test") as producer:
            producer.publish_events([finish(f"{team}-1", now)])
        wait_until(lambda: len(posted(receiver, team)) == 2, 40, hub, "the resolved notification")
        time.sleep(4)
        assert posted(receiver, team) == [("firing", ["firing"]), ("resolved", ["resolved"])]
        assert posted(receiver, other) == []

        history = api(hub, "GET", f"/api/v1/alerts/{firing['fingerprint']}").json()["history"]
        assert [h["state"] for h in history] == ["pending", "firing", "resolved"]
        log = hub.wait_for(
            "/api/v1/notifications?status=delivered",
            lambda b: len([r for r in b["items"] if team in r["key"]]) == 2,
        )
        assert {r["alert_status"] for r in log["items"] if team in r["key"]} == {
            "firing",
            "resolved",
        }
        body = receiver.requests[0].json()
        assert body["version"] == "4" and body["receiver"] == "product"
        assert body["externalURL"].startswith("http://")
        check_the_cli(hub, tmp_path, team, roadmap)
        hub.stop()


def check_the_cli(hub: HubProcess, tmp_path: Path, team: str, roadmap: dict[str, Any]) -> None:
    """The same surface from a terminal: roadmap, alerts, silences, digest."""
    env = {"HUB_API_PORT": str(hub.port), "HUB_API_TOKEN": hub.token, "HUB_DATA_DIR": str(tmp_path)}
    plan = tmp_path / "roadmap.yaml"
    plan.write_text(yaml.safe_dump(roadmap))
    assert "valid (2 teams, 1 items)" in hub_cli("roadmap", "validate", str(plan), env=env).stdout
    dry = hub_cli("roadmap", "apply", "--dry-run", str(plan), env=env)
    assert dry.stdout.startswith("would apply 0 change(s)"), dry.stdout + dry.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("items: [{id: x, title: X, teams: [nobody]}]")
    refused = hub_cli("roadmap", "validate", str(broken), env=env)
    assert refused.returncode != 0 and "items[0].teams[0]: unknown team 'nobody'" in refused.stderr
    listed = hub_cli("alerts", "list", "--state", "resolved", "--team", team, env=env).stdout
    assert "WipOverLimit" not in listed and f"{team}: 2 items in progress" in listed
    added = hub_cli(
        "silences", "add", "-m", f'team="{team}"', "--for", "1h", "--comment", "x", env=env
    )
    silence_id = added.stdout.split()[1]
    assert silence_id in hub_cli("silences", "list", "--state", "active", env=env).stdout
    assert "expired" in hub_cli("silences", "expire", silence_id, env=env).stdout
    digest = hub_cli("digest", "--team", team, env=env)
    assert digest.stdout.startswith(f"Roadmap digest, team {team}"), digest.stdout + digest.stderr
    assert "Alerts resolved: 1" in digest.stdout
