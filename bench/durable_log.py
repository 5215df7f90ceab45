"""The durable embedded default against the in-memory one, measured in the same run.

- pipeline throughput: the worker folding the same events from a durable log and from
  an in-memory one (target: durable >= 0.5x in-memory);
- webhook freshness p99 on the durable log (target < 1 s; baseline: the same on memory);
- restart: a hub whose log holds 1M events (200k with --quick) stopped and started again,
  until the API answers a query right (target < 60 s; baseline: its first fold);
- disk: bytes on disk per million events, and for the state topics per day of syncing.
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

import requests

from bench import freshness, pipeline
from bench.common import Result, produce, work_item_events
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


def _serving(port: int, keys: list[str], steps: int, process: subprocess.Popen[bytes]) -> float:
    """Seconds until the API shows every one of ``steps`` events of each of ``keys``: a
    timeline of ``steps`` stages, so nothing of them is still being folded."""
    started = time.perf_counter()
    session = requests.Session()
    session.headers["Authorization"] = "Bearer bench-token"
    while time.perf_counter() - started < 900:
        if process.poll() is not None:
            raise RuntimeError(f"hub up exited with {process.returncode}")
        try:
            answers = [
                session.get(f"http://127.0.0.1:{port}/api/v1/workitems/{key}", timeout=5)
                for key in keys
            ]
            if all(a.ok and len(a.json()["timeline"]) == steps for a in answers):
                return time.perf_counter() - started
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{keys} were not served whole within 15 minutes")


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
    # every key has count/keys events, each a stage of its timeline; one key per partition
    # (the keys spread over them), so each partition's last events are checked
    probes = [f"B-{k}" for k in range(keys - 8, keys)]
    port = free_port()
    timings = []
    for _ in range(2):
        process = _hub_up(data, port)
        try:
            timings.append(_serving(port, probes, count // keys, process))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
    return timings[0], timings[1], size


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
            "durable_state_topic_per_day",
            day / 2**20,
            "MiB/day",
            COMPACT_ABOVE_BYTES / 2**20,
            higher_is_better=False,
            note="5 connectors syncing every 2 minutes, before the rewrite to latest values "
            "(hub.compaction), which runs past twice the last size and 64 MiB: the baseline",
        ),
    ]
