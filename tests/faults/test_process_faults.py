"""Processes dying and the broker vanishing: a worker SIGKILLed while two share the work,
the connector runtime killed between producing a page and committing its cursor, the
broker unreachable for 20 s. Each ends with every work item equal to the source."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulators.jira import JiraEmulator, generate_project
from tests.faults.harness import Hub, jira_connector, wait_for_truth
from tests.helpers import HubProcess, metric_total, own_broker

pytestmark = pytest.mark.broker


def folded(worker: HubProcess) -> float:
    try:
        return metric_total(worker, "hub_events_folded_total")
    except Exception:
        return 0.0


def test_one_of_two_workers_killed_mid_stream_the_other_takes_over_then_it_rejoins(
    tmp_path: Path,
) -> None:
    """When one of two workers is SIGKILLed mid-stream the other takes its partitions, and after it
    rejoins both answer from the full history.
    """
    issues = generate_project(1200, project="TWO", histories_per_issue=4, seed=8)
    with own_broker() as broker, JiraEmulator(issues, token="t0k") as jira:
        with Hub(broker.bootstrap_servers, tmp_path) as hub:
            survivor, victim = hub.start_worker("a"), hub.start_worker("b")
            survivor.wait_healthy()
            victim.wait_healthy()
            time.sleep(3)  # both in the group, partitions shared
            hub.start_connect(
                [jira_connector(jira, "jira-two", "TWO", page_size=100)], JIRA_TOKEN="t0k"
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and folded(victim) < 300:
                time.sleep(0.05)
            done_by_victim = folded(victim)
            victim.stop(signal.SIGKILL)
            assert done_by_victim >= 300, "the victim never got partitions to fold"
            assert folded(survivor) + done_by_victim < 1200 * 5, "killed after the stream ended"
            wait_for_truth(survivor, jira, "TWO", timeout=120)
            # Restarted, the killed worker rejoins (another rebalance) and agrees.
            back = hub.start_worker("b-again")
            back.wait_healthy()
            wait_for_truth(back, jira, "TWO", timeout=120)
            wait_for_truth(survivor, jira, "TWO", timeout=60)


def test_connector_killed_between_producing_and_committing_loses_nothing(tmp_path: Path) -> None:
    """A connector killed between producing a page and committing its cursor re-pulls it; nothing
    is lost or double counted.
    """
    issues = generate_project(100, project="CRASH", histories_per_issue=4, seed=4)
    with own_broker() as broker, JiraEmulator(issues, token="t0k") as jira:
        with Hub(broker.bootstrap_servers, tmp_path) as hub:
            worker = hub.start_worker()
            worker.wait_healthy()
            connectors = [jira_connector(jira, "jira-crash", "CRASH")]
            crashing = hub.start_connect(
                connectors, JIRA_TOKEN="t0k", HUB_FAULT_CRASH_AFTER_PAGES="2"
            )
            crashing.process.wait(60)
            assert crashing.process.returncode == 137  # died with page 2 produced, uncommitted
            hub.start_connect(connectors, JIRA_TOKEN="t0k")
            wait_for_truth(worker, jira, "CRASH")
            assert "hub_events_duplicate_total" in worker.get("/metrics", token=None).text


def test_broker_unreachable_for_20s_then_everything_resumes(tmp_path: Path) -> None:
    """With the broker frozen for 20 s, connector and worker resume afterwards and reach the
    emulator's ground truth.
    """
    issues = generate_project(60, project="DARK", histories_per_issue=4, seed=6)
    with own_broker() as broker, JiraEmulator(issues, token="t0k") as jira:
        with Hub(broker.bootstrap_servers, tmp_path) as hub:
            worker = hub.start_worker()
            worker.wait_healthy()
            connect = hub.start_connect(
                [jira_connector(jira, "jira-dark", "DARK")], JIRA_TOKEN="t0k"
            )
            wait_for_truth(worker, jira, "DARK")
            assert broker.pid is not None
            os.kill(broker.pid, signal.SIGSTOP)  # frozen: connections hang, nothing answers
            try:
                now = datetime.now(UTC)
                with jira.lock:  # the source keeps changing during the outage
                    for n in range(1, 21):
                        jira.transition(f"DARK-{n}", "In Progress", now - timedelta(seconds=n))
                time.sleep(20)
            finally:
                os.kill(broker.pid, signal.SIGCONT)
            assert worker.process.poll() is None and connect.process.poll() is None
            wait_for_truth(worker, jira, "DARK", timeout=120)
            assert worker.process.poll() is None and connect.process.poll() is None
