"""Processes dying and the broker vanishing: a worker SIGKILLed while two share the work,
one of two connector runtimes SIGKILLed mid-backfill, the broker unreachable for 20 s.
Each ends with every work item equal to the source. (A runtime killed between producing a
page and committing its cursor is tests/e2e/test_connector_runtime.py's.)"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulators.jira import JiraEmulator, generate_project
from tests.faults.harness import Hub, jira_connector, served_items, wait_for_truth
from tests.helpers import HubProcess, metric_total, own_broker, poll

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


def _named_in(low: int, high: int, stem: str) -> str:
    """A connector name whose bucket lies in [low, high): with two runtimes the group gives
    each one half of the buckets, so names from both halves give each runtime work."""
    from connectors.assignment import bucket

    return next(f"{stem}-{n}" for n in range(1000) if low <= bucket(f"{stem}-{n}") < high)


def test_two_connector_runtimes_share_the_connectors_and_a_killed_ones_move_on(
    tmp_path: Path,
) -> None:
    """Two runtimes share two connectors, each running in exactly one of them; the runtime
    syncing the big backfill is SIGKILLed half way and within 30 s the other resumes it
    from its committed cursor; every item of both projects equals Jira's, counted once."""
    issues = generate_project(300, project="FOA", histories_per_issue=4, seed=12)
    issues += generate_project(40, project="FOB", histories_per_issue=3, seed=13)
    big, small = _named_in(0, 6, "jira-big"), _named_in(6, 12, "jira-small")
    with own_broker() as broker, JiraEmulator(issues, token="t0k") as jira:
        connectors = [
            jira_connector(jira, big, "FOA", requests_per_second=3, page_size=20),
            jira_connector(jira, small, "FOB"),
        ]
        with Hub(broker.bootstrap_servers, tmp_path) as hub:
            worker = hub.start_worker()
            worker.wait_healthy()
            first = hub.start_connect(connectors, name="connect-a", JIRA_TOKEN="t0k")
            second = hub.start_connect(connectors, name="connect-b", JIRA_TOKEN="t0k")
            runtimes = {p.process.pid: p for p in (first, second)}

            def runner(name: str) -> int | None:
                reply = worker.get(f"/api/v1/connectors/{name}/status")
                status = reply.json() if reply.ok else {}
                owner = str(status.get("worker") or ":").rsplit(":", 1)[-1]
                return int(owner) if owner.isdigit() and status.get("state") == "RUNNING" else None

            owners = poll(
                lambda: (a, b) if (a := runner(big)) and (b := runner(small)) and a != b else None,
                60,
                "each runtime running one connector",
            )
            victim = runtimes[owners[0]]
            poll(lambda: len(served_items(worker, "FOA-")) >= 60, 60, "a backfill under way")
            assert len(served_items(worker, "FOA-")) < 300, "killed after the backfill ended"
            victim.stop(signal.SIGKILL)
            killed = time.monotonic()
            poll(lambda: runner(big) == owners[1], 30, "the survivor running the big connector")
            assert time.monotonic() - killed < 30
            wait_for_truth(worker, jira, "FOA", timeout=120)
            wait_for_truth(worker, jira, "FOB", timeout=30)
            assert runner(small) == owners[1] and second.process.poll() is None


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
