"""Worker fold throughput against a bare aiokafka consume-and-fold loop on the same events.

The baseline does what the worker must at minimum: ``getmany`` batches, the same JSON
decode and pydantic validation, the same idempotent pure fold, into a dict.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from bench.common import Result, Worker, produce, work_item_events
from core.codec import decode
from core.log_reader import Position
from core.topics import WORKITEMS, ensure_topics
from hub.broker import EmbeddedBroker, free_port
from projections.entities import fold_entity
from projections.tracking import apply_tracked


async def bare_fold(bootstrap: str, expected: int) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    await consumer.topics()
    tps = [TopicPartition(WORKITEMS.name, p) for p in consumer.partitions_for_topic(WORKITEMS.name)]
    consumer.assign(tps)
    await consumer.seek_to_beginning()
    states: dict[str, dict] = {}
    seen = 0
    started = time.perf_counter()
    try:
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    event = decode(record.value)
                    key = event.entity.stream_key
                    states[key], _ = apply_tracked(
                        fold_entity,
                        states.get(key),
                        event,
                        Position(tp.topic, tp.partition, record.offset),
                    )
                    seen += 1
    finally:
        await consumer.stop()
    return seen / (time.perf_counter() - started)


def worker_fold(bootstrap: str, expected: int) -> float:
    worker = Worker(bootstrap, free_port())
    try:
        worker.wait_running()
        started = time.perf_counter()
        while worker.folded() < expected:
            time.sleep(0.05)
            if time.perf_counter() - started > 600:
                raise RuntimeError("worker did not finish in 10 minutes")
        return expected / (time.perf_counter() - started)
    finally:
        worker.stop()


def faust_floor(bootstrap: str, expected: int) -> float:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "bench.faust_floor", bootstrap, str(expected)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return float(re.findall(r"[0-9.]+", out.stdout)[-1])


def measure(count: int, log_dir: Path | None = None) -> tuple[float, float]:
    """(worker events/s, bare loop events/s) on an embedded broker keeping its log in memory,
    or durably under ``log_dir``."""
    with EmbeddedBroker(log_dir=log_dir) as broker:
        ensure_topics(broker.bootstrap_servers, 4, 1)
        produce(broker.bootstrap_servers, work_item_events(count, keys=10_000))
        baseline = asyncio.run(bare_fold(broker.bootstrap_servers, count))
        return worker_fold(broker.bootstrap_servers, count), baseline


def run(quick: bool) -> list[Result]:
    count = 50_000 if quick else 300_000
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap_servers, 4, 1)
        produce(broker.bootstrap_servers, work_item_events(count, keys=10_000))
        baseline = asyncio.run(bare_fold(broker.bootstrap_servers, count))
        measured = worker_fold(broker.bootstrap_servers, count)
        floor = faust_floor(broker.bootstrap_servers, count)
    note = f"{count} events, 10,000 keys; baseline: bare aiokafka getmany + decode + fold"
    return [
        Result("pipeline_throughput", measured, "events/s", baseline, note=note),
        Result(
            "faust_stream_only",
            floor,
            "events/s",
            baseline,
            note="a Faust agent that only takes batches and acks: the framework's ceiling",
        ),
    ]
