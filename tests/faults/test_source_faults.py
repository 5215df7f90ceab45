"""A misbehaving source: 429 storms, 5xx bursts, timeouts, dropped connections, truncated
JSON, schema drift. Syncs slow down or dead-letter the bad records, recover, and the
projections end exactly equal to what the source holds."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.topics import DEADLETTER, read_topic
from emulators.jira import JiraEmulator, generate_project, jira_time
from tests.faults.harness import Hub, jira_connector, wait_for_truth
from tests.helpers import own_broker

pytestmark = pytest.mark.broker


def status_of(hub: Hub, name: str) -> dict[str, Any]:
    worker = hub.workers[0]
    return dict(worker.get(f"/api/v1/connectors/{name}/status").json())


def test_storms_bursts_timeouts_and_truncation_slow_syncs_down_but_lose_nothing(
    tmp_path: Path,
) -> None:
    """429 storms, 5xx, slow answers, truncated bodies and dropped connections slow a backfill down
    but lose nothing.
    """
    issues = generate_project(80, project="STORM", histories_per_issue=4, seed=21)
    with own_broker() as broker, JiraEmulator(issues, token="t0k") as jira:
        # The backfill meets every kind of trouble, page after page.
        jira.faults = ["429"] * 5 + ["503", "500", "slow:3", "truncate", "drop"] * 2
        with Hub(broker.bootstrap_servers, tmp_path) as hub:
            worker = hub.start_worker()
            worker.wait_healthy()
            hub.start_connect(
                [jira_connector(jira, "jira-storm", "STORM", request_timeout=1.0)],
                JIRA_TOKEN="t0k",
            )
            wait_for_truth(worker, jira, "STORM")
            assert jira.faults == []  # every fault was served, and the sync got past them

            # Live changes while the source misbehaves again: still exactly the source.
            now = datetime.now(UTC)
            with jira.lock:
                for n in range(1, 11):
                    jira.transition(f"STORM-{n}", "In Progress", now - timedelta(seconds=n))
            jira.faults = ["503"] * 3 + ["truncate", "429", "429", "drop", "slow:3"]
            wait_for_truth(worker, jira, "STORM")
            final = status_of(hub, "jira-storm")
            assert final["state"] == "RUNNING", final


def test_schema_drift_dead_letters_the_bad_records_and_the_rest_flows(tmp_path: Path) -> None:
    """Records with drifted schemas are dead-lettered with the reason while every other record is
    folded.
    """
    issues = generate_project(30, project="DRIFT", histories_per_issue=3, seed=5)
    broken = copy.deepcopy(issues)
    # Renamed and missing fields, as after an unannounced API change.
    broken[3]["fields"]["created_at"] = broken[3]["fields"].pop("created")
    del broken[7]["fields"]["status"]
    broken[11]["fields"]["issuetype"] = "Story"  # a string where an object was
    bad_keys = {broken[n]["key"] for n in (3, 7, 11)}
    with own_broker() as broker, JiraEmulator(broken, token="t0k") as jira:
        with Hub(broker.bootstrap_servers, tmp_path) as hub:
            worker = hub.start_worker()
            worker.wait_healthy()
            hub.start_connect([jira_connector(jira, "jira-drift", "DRIFT")], JIRA_TOKEN="t0k")
            served = worker.wait_for(
                "/api/v1/workitems",
                lambda b: len([i for i in b["items"] if i["key"].startswith("DRIFT-")]) == 27,
                timeout=60,
            )
            assert not bad_keys & {i["key"] for i in served["items"]}
            letters = [
                json.loads(v) for _, v in read_topic(broker.bootstrap_servers, DEADLETTER.name)
            ]
            dead = {json.loads(letter["raw"])["key"]: letter["error"] for letter in letters}
            assert dead.keys() == bad_keys, letters
            assert "fields.created is missing" in dead[broken[3]["key"]]
            assert "fields.status is missing" in dead[broken[7]["key"]]
            assert "fields.issuetype should be an object" in dead[broken[11]["key"]]

            # The source is fixed: the records come back whole and are folded.
            with jira.lock:
                for n in (3, 7, 11):
                    fixed = copy.deepcopy(issues[n])
                    fixed["fields"]["updated"] = jira_time(
                        datetime.fromisoformat(fixed["fields"]["updated"]) + timedelta(days=40)
                    )
                    jira.issues[fixed["key"]] = fixed
            wait_for_truth(worker, jira, "DRIFT")
