"""Freshness: a change in the source, until the query API shows it, under steady load.

A Jira emulator is synced by the real connector runtime (1 s polls) while 500 other events
a second stream in. Each sample changes one issue's status in the emulator and times until
``GET /api/v1/workitems/{key}`` shows it: once told by a signed webhook (target p99 < 1 s),
once found by the next poll (target p99 < poll interval + 1 s). The baseline is the same
wait for an event produced straight onto the topic: the hub's own floor, without a source.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import requests

from bench.common import Result, Worker, produce, work_item_events
from core.codec import encode
from core.events import EntityRef, WorkItemStatusChanged, make_event_id
from core.publish import SyncPublisher
from core.topics import ensure_topics
from emulators.jira import JiraEmulator, generate_project
from hub.broker import EmbeddedBroker, free_port

POLL_SECONDS = 1.0
LOAD_PER_SECOND = 500
STATUSES = ("In Progress", "QA")


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _visible(session: requests.Session, url: str, status: str, timeout: float = 30) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        response = session.get(url, timeout=5)
        if response.status_code == 200 and response.json()["status"] == status:
            return time.perf_counter() - started
        time.sleep(0.01)
    raise RuntimeError(f"{url} never showed {status}")


class _Load(threading.Thread):
    """``LOAD_PER_SECOND`` events a second onto the work item topic, until stopped."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.stop = bootstrap, threading.Event()

    def run(self) -> None:
        events = work_item_events(10_000_000, keys=5_000, prefix="LOAD")
        with SyncPublisher(self.bootstrap, origin="bench") as producer:
            while not self.stop.is_set():
                tick = time.perf_counter()
                producer.publish_events(next(events) for _ in range(LOAD_PER_SECOND // 10))
                time.sleep(max(0.0, 0.1 - (time.perf_counter() - tick)))


def run(quick: bool, log_dir: Path | None = None) -> list[Result]:
    """On the embedded broker, its log in memory or durably under ``log_dir``."""
    samples = 15 if quick else 60
    issues = generate_project(200, project="FRESH", histories_per_issue=2, seed=3)
    secrets = {"JIRA_TOKEN": "bench-jira", "JIRA_HOOK": "bench-hook"}
    with (
        EmbeddedBroker(log_dir=log_dir) as broker,
        JiraEmulator(
            issues, token=secrets["JIRA_TOKEN"], webhook_secret=secrets["JIRA_HOOK"]
        ) as jira,
    ):
        bootstrap = broker.bootstrap_servers
        ensure_topics(bootstrap, 4, 1)
        produce(bootstrap, work_item_events(samples * 2, keys=samples * 2, prefix="DIRECT"))
        worker = Worker(bootstrap, free_port(), extra_env=secrets)
        connect = None
        load = _Load(bootstrap)
        try:
            worker.wait_running()
            config = {
                "type": "jira",
                "poll_interval": f"{POLL_SECONDS:g}s",
                "settings": {
                    "base_url": jira.url,
                    "email": jira.email,
                    "api_token": "${env:JIRA_TOKEN}",
                    "webhook_secret": "${env:JIRA_HOOK}",
                    "projects": ["FRESH"],
                    "requests_per_second": 50,
                },
            }
            worker.session.put(f"{worker.url}/api/v1/connectors/fresh", json=config, timeout=10)
            connect = Worker(bootstrap, free_port(), extra_env=secrets, command=("connect",))
            session = worker.session
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if session.get(f"{worker.url}/api/v1/workitems/FRESH-200", timeout=5).ok:
                    break
                time.sleep(0.2)
            load.start()
            time.sleep(2)
            direct, hooked, pulled = [], [], []
            steps = count()
            with SyncPublisher(bootstrap, origin="bench") as producer:
                for n in range(samples):
                    key = f"DIRECT-{n}"
                    ref = EntityRef(kind="work_item", key=key)
                    event = WorkItemStatusChanged(
                        event_id=make_event_id("bench", "work_item", key, "fresh", "x"),
                        source={"system": "bench", "connector": "bench"},
                        entity=ref,
                        occurred_at=datetime.now(UTC),
                        payload={"to_status": "Shipped", "to_category": "done"},
                    )
                    producer.publish([("hub.workitems", ref.stream_key, encode(event))])
                    direct.append(
                        _visible(session, f"{worker.url}/api/v1/workitems/{key}", "Shipped")
                    )
            for n in range(samples):
                for mode, into in (("webhook", hooked), ("pull", pulled)):
                    key = f"FRESH-{1 + (2 * n + (mode == 'pull')) % 200}"
                    status = STATUSES[next(steps) % 2]
                    if jira.issues[key]["fields"]["status"]["name"] == status:
                        status = STATUSES[next(steps) % 2]
                    now = datetime.now(UTC)
                    with jira.lock:
                        jira.transition(key, status, now)
                        history = jira.issues[key]["changelog"]["histories"][-1]
                    started = time.perf_counter()
                    if mode == "webhook":
                        body, headers = jira.webhook("jira:issue_updated", key, history, now)
                        requests.post(
                            f"{worker.url}/webhooks/fresh", data=body, headers=headers, timeout=10
                        )
                    _visible(session, f"{worker.url}/api/v1/workitems/{key}", status)
                    into.append(time.perf_counter() - started)
        finally:
            load.stop.set()
            if connect is not None:
                connect.stop()
            worker.stop()
    ms = 1000.0
    note = (
        f"{samples} samples each, {LOAD_PER_SECOND} events/s of other load, {POLL_SECONDS:g}s polls"
    )
    base50, base99 = statistics.median(direct) * ms, _percentile(direct, 0.99) * ms
    return [
        Result("freshness_webhook_p50", statistics.median(hooked) * ms, "ms", base50, False, note),
        Result(
            "freshness_webhook_p99",
            _percentile(hooked, 0.99) * ms,
            "ms",
            base99,
            False,
            "target < 1000 ms; baseline: produced straight onto the topic",
        ),
        Result("freshness_pull_p50", statistics.median(pulled) * ms, "ms", base50, False, note),
        Result(
            "freshness_pull_p99",
            _percentile(pulled, 0.99) * ms,
            "ms",
            base99,
            False,
            f"target < {(POLL_SECONDS + 1) * 1000:.0f} ms (poll interval + 1 s)",
        ),
    ]
