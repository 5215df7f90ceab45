"""Shared benchmark plumbing: result lines, event generation, a broker, a worker process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from core.codec import encode
from core.events import (
    EntityRef,
    Event,
    Source,
    WorkItemCreated,
    WorkItemStatusChanged,
    make_event_id,
)
from hub.broker import free_port

__all__ = ["Result", "TOKEN", "Worker", "demo_hub", "produce", "work_item_events"]

SOURCE = Source(system="jira", connector="bench")
FLOW = [
    ("To Do", "todo"),
    ("In Progress", "in_progress"),
    ("In Review", "in_progress"),
    ("Done", "done"),
]


@dataclass
class Result:
    name: str
    value: float
    unit: str
    baseline: float
    higher_is_better: bool = True
    note: str = ""

    def line(self) -> str:
        ratio = self.value / self.baseline if self.baseline else None
        body: dict[str, Any] = {
            "name": self.name,
            "value": round(self.value, 3),
            "unit": self.unit,
            "baseline": round(self.baseline, 3),
            "ratio": round(ratio, 3) if ratio is not None else None,
        }
        if self.note:
            body["note"] = self.note
        return json.dumps(body)


def work_item_events(
    count: int, keys: int, prefix: str = "B", teams: tuple[str, ...] = ()
) -> Iterator[Event]:
    """About 300-byte events over ``keys`` work items: a creation, then status changes;
    the items spread over ``teams`` (default: six made-up ones)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    per_key = [0] * keys
    for n in range(count):
        k = n % keys
        step = per_key[k]
        per_key[k] += 1
        key = f"{prefix}-{k}"
        at = start + timedelta(minutes=n)
        ref = EntityRef(kind="work_item", key=key)
        if step == 0:
            yield WorkItemCreated(
                event_id=make_event_id("bench", "work_item", key, "c", "work_item.created"),
                source=SOURCE,
                entity=ref,
                occurred_at=at,
                observed_at=at,
                payload={
                    "title": f"Item {k}",
                    "status": "To Do",
                    "status_category": "todo",
                    "team": teams[k % len(teams)] if teams else f"team-{k % 6}",
                    "item_type": "Story",
                },
            )
            continue
        old, new = FLOW[(step - 1) % 3], FLOW[(step - 1) % 3 + 1]
        yield WorkItemStatusChanged(
            event_id=make_event_id(
                "bench", "work_item", key, str(step), "work_item.status_changed"
            ),
            source=SOURCE,
            entity=ref,
            occurred_at=at,
            observed_at=at,
            payload={
                "from_status": old[0],
                "to_status": new[0],
                "from_category": old[1],
                "to_category": new[1],
            },
        )


async def _produce(bootstrap: str, events: Iterator[Event]) -> int:
    from aiokafka import AIOKafkaProducer

    from core.topics import topic_for_kind

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    count = 0
    try:
        futures = []
        for event in events:
            futures.append(
                await producer.send(
                    topic_for_kind(event.entity.kind).name,
                    key=event.entity.stream_key.encode(),
                    value=encode(event),
                )
            )
            count += 1
            if len(futures) >= 20_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return count


def produce(bootstrap: str, events: Iterator[Event]) -> int:
    return asyncio.run(_produce(bootstrap, events))


class Worker:
    """``hub worker`` as a subprocess with its own app id, port and data dir."""

    def __init__(
        self,
        bootstrap: str,
        port: int,
        token: str = "bench-token",
        extra_env: dict[str, str] | None = None,
        command: tuple[str, ...] = ("worker",),
    ) -> None:
        self.port, self.token = port, token
        self.dir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
            "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HUB_API_PORT": str(port),
            "HUB_API_TOKEN": token,
            "HUB_DATA_DIR": str(self.dir),
            "HUB_STORE": "memory://",
            "HUB_RECOVERY_CONSISTENCY_CHECK": "false",
            "HUB_APP_ID": f"bench-{uuid.uuid4().hex[:8]}",
            "HUB_LOG_FORMAT": "json",
            "HUB_LOG_LEVEL": "warning",
            **(extra_env or {}),
        }
        self.log = (self.dir / "worker.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub", *command],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_running(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                body = self.session.get(self.url + "/health", timeout=5).json()
                if body["worker"]["state"] == "running":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError("worker did not start; see " + str(self.dir / "worker.log"))

    def folded(self) -> float:
        text = self.session.get(self.url + "/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("hub_events_folded_total{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


TOKEN = "bench-token"


@contextlib.contextmanager
def demo_hub(data: Path, storage: str, wait_for_alerts: int = 5) -> Iterator[str]:
    """``hub up --demo`` on ``data`` with the embedded log ``storage`` (durable or
    memory), yielding its base URL once its backfill is done (the planted drifts fire);
    stopped with SIGTERM at the end. Its API token is ``TOKEN``."""
    import signal

    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATA_DIR": str(data),
        "HUB_API_PORT": str(port),
        "HUB_API_TOKEN": TOKEN,
        "HUB_EMBEDDED_STORAGE": storage,
        "HUB_LOG_LEVEL": "warning",
    }
    out = (data.parent / f"{data.name}-up.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "up", "--demo"], env=env, stdout=out, stderr=out
    )
    base = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        deadline = time.monotonic() + 600
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the demo hub did not come up; see {out.name}")
            try:
                firing = session.get(base + "/api/v1/alerts?state=firing", timeout=5)
                if len(firing.json()["items"]) >= wait_for_alerts:
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        out.close()
