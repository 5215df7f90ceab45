"""The durable embedded default against the in-memory one, measured in the same run.

- pipeline throughput: the worker folding the same events from a durable log and from
  an in-memory one (target: durable >= 0.5x in-memory);
- webhook freshness p99 on the durable log (target < 1 s; baseline: the same on memory);
- restart: a hub whose log holds 1M events (200k with --quick) stopped and started again,
  until the API answers a query right (target < 60 s; baseline: its first fold);
- disk: bytes on disk per million events, per day of the demo's live activity (measured
  on a running demo), and for the state topics per day of syncing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench import freshness, pipeline
from bench.common import Result, demo_hub, produce, work_item_events
from core.topics import CONNECT_STATUS, ensure_topics
from hub.broker import EmbeddedBroker, free_port
from hub.supervisor import COMPACT_ABOVE_BYTES

__all__ = ["run"]


def _hub_up(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATA_DIR": str(data),
        "HUB_API_PORT": str(port),
        "HUB_API_TOKEN": "bench-token",
        "HUB_LOG_LEVEL": os.environ.get("BENCH_HUB_LOG_LEVEL", "warning"),
    }
    log = (data / "up.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "hub", "up"], env=env, stdout=log, stderr=log)


def _answers(session: requests.Session, port: int, keys: list[str]) -> list[Any] | None:
    try:
        replies = [
            session.get(f"http://127.0.0.1:{port}/api/v1/workitems/{key}", timeout=5)
            for key in keys
        ]
    except requests.RequestException:
        return None
    return [r.json() if r.ok else None for r in replies]


def _caught_up(session: requests.Session, port: int) -> bool:
    try:
        health = session.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    except (requests.RequestException, ValueError):
        return False
    read_model = health.get("read_model") or {}
    return (
        health["worker"]["state"] == "running"
        and not sum(health["lag"].values())
        and read_model.get("caught_up", False)
        and read_model.get("behind", 1) == 0
    )


def _serving(
    port: int, keys: list[str], expected: list[Any] | None, process: subprocess.Popen[bytes]
) -> tuple[float, list[Any]]:
    """(seconds, answers) until the API answers right: with ``expected`` None (a first
    start), until the worker has folded everything and its read model has read its whole
    changelog; else until the probed keys' answers equal ``expected`` (each key's whole
    timeline, so nothing of theirs is still being folded)."""
    started = time.perf_counter()
    session = requests.Session()
    session.headers["Authorization"] = "Bearer bench-token"
    while time.perf_counter() - started < 1800:
        if process.poll() is not None:
            raise RuntimeError(f"hub up exited with {process.returncode}")
        if expected is None:
            # the worker's word, and the same answers 3 s later (lag is only known once
            # the fold loop has fetched, so a first "caught up" may come too early)
            answers = _answers(session, port, keys) if _caught_up(session, port) else None
            if answers is not None and all(a is not None for a in answers):
                took = time.perf_counter() - started
                time.sleep(3)
                again = _answers(session, port, keys)
                if _caught_up(session, port) and again is not None and _same(again, answers):
                    return took, answers
        else:
            answers = _answers(session, port, keys)
            if answers is not None and _same(answers, expected):
                return time.perf_counter() - started, answers
        time.sleep(0.1)
    raise RuntimeError(f"{keys} were not served right within 30 minutes")


def _same(answers: list[Any], expected: list[Any]) -> bool:
    """The same work items: status, stage and every step of the timeline (the numbers
    that grow with the clock, like an open item's age, left aside)."""

    def stable(answer: Any) -> Any:
        if answer is None:
            return None
        steps = [(s["status"], s["entered_at"]) for s in answer["timeline"]]
        return answer["status"], answer["stage"], steps

    return [stable(a) for a in answers] == [stable(e) for e in expected]


def _restart(count: int, root: Path) -> tuple[float, float, int]:
    """(first start seconds, restart-to-serving seconds, log bytes): ``hub up`` on a data
    dir whose log holds ``count`` events, folding them all; stopped; started again."""
    data = root / "data"
    data.mkdir(parents=True)
    keys = 10_000
    with EmbeddedBroker(log_dir=data / "log") as broker:
        ensure_topics(broker.bootstrap_servers, 4, 1)
        produce(broker.bootstrap_servers, work_item_events(count, keys=keys))
        size = broker.topic_bytes(["hub.workitems"])
    # the keys written last (events go round the keys), spread over the partitions: their
    # answers are the last to be right
    probes = [f"B-{k}" for k in range(keys - 8, keys)]
    port = free_port()
    timings: list[float] = []
    expected: list[Any] | None = None
    for _ in range(2):
        process = _hub_up(data, port)
        try:
            took, expected = _serving(port, probes, expected, process)
            timings.append(took)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(120)
    return timings[0], timings[1], size


def _demo_day(root: Path, seconds: float) -> float:
    """Bytes the durable log grows by in a day of the demo's live activity: ``hub up
    --demo`` on a durable data dir, its backfill done, measured over ``seconds`` and
    scaled to the day (state-topic rewrites included, as they happen)."""
    data = root / "demo"

    def log_bytes() -> int:
        return sum(f.stat().st_size for f in (data / "log").rglob("*") if f.is_file())

    with demo_hub(data, "durable"):
        time.sleep(30)  # let the backfill's last writes land
        before, started = log_bytes(), time.monotonic()
        time.sleep(seconds)
        return (log_bytes() - before) / (time.monotonic() - started) * 86400


def _state_topic_day(root: Path) -> float:
    """Bytes a day of 5 connectors syncing every 2 minutes writes to their status topic
    (two records a sync), measured on a sample and scaled to the day, before compaction."""
    from core.publish import SyncPublisher

    syncs = 5 * 24 * 30  # 5 connectors, a sync every 2 minutes, for a day
    sample = 1000
    with EmbeddedBroker(log_dir=root / "state-log") as broker:
        ensure_topics(broker.bootstrap_servers, 4, 1)
        record = '{"state": "RUNNING", "last_sync_events": 12, "pad": "' + "x" * 300 + '"}'
        with SyncPublisher(broker.bootstrap_servers, origin="bench") as out:
            for n in range(sample):
                out.publish([(CONNECT_STATUS.name, f"c{n % 5}", record.encode())] * 2)
        size = broker.topic_bytes([CONNECT_STATUS.name])
    return size / sample * syncs


def run(quick: bool) -> list[Result]:
    events = 50_000 if quick else 300_000
    restart_events = 200_000 if quick else 1_000_000
    root = Path(tempfile.mkdtemp(prefix="hub-bench-durable-"))
    try:
        durable, _ = pipeline.measure(events, log_dir=root / "pipeline-log")
        memory, _ = pipeline.measure(events)
        fresh_memory = {r.name: r.value for r in freshness.run(quick)}
        fresh_durable = {r.name: r.value for r in freshness.run(quick, log_dir=root / "fresh")}
        first, restart, size = _restart(restart_events, root / "restart")
        day = _state_topic_day(root)
        demo_day = _demo_day(root, 120 if quick else 600)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return [
        Result(
            "durable_pipeline_throughput",
            durable,
            "events/s",
            memory,
            note=f"{events} events; baseline: the same worker on the in-memory log; "
            "target ratio >= 0.5",
        ),
        Result(
            "durable_freshness_webhook_p99",
            fresh_durable["freshness_webhook_p99"],
            "ms",
            fresh_memory["freshness_webhook_p99"],
            higher_is_better=False,
            note="target < 1000 ms; baseline: the same on the in-memory log",
        ),
        Result(
            "durable_restart_to_serving",
            restart,
            "s",
            first,
            higher_is_better=False,
            note=f"hub up with {restart_events} events in its log, stopped and started: "
            "until the API answers right; target < 60 s; baseline: its first start, "
            "folding the whole log",
        ),
        Result(
            "durable_disk_per_million_events",
            size / restart_events * 1_000_000 / 2**20,
            "MiB",
            restart_events * 300 / 2**20 * 1_000_000 / restart_events,
            higher_is_better=False,
            note="the work item topic on disk; baseline: the events' own ~300 bytes each",
        ),
        Result(
            "durable_demo_log_per_day",
            demo_day / 2**20,
            "MiB/day",
            COMPACT_ABOVE_BYTES / 2**20,
            higher_is_better=False,
            note="the durable log's growth under the demo's live activity (after its "
            "backfill), measured and scaled to a day; baseline: the state-topic rewrite "
            "floor, for scale",
        ),
        Result(
            "durable_state_topic_per_day",
            day / 2**20,
            "MiB/day",
            COMPACT_ABOVE_BYTES / 2**20,
            higher_is_better=False,
            note="5 connectors syncing every 2 minutes, before the rewrite to latest values "
            "(hub.compaction), which runs past twice the last size and 64 MiB: the baseline",
        ),
    ]
