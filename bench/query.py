"""Query latency at 10,000 work items under concurrent clients.

The baseline is the same server's cheapest authenticated route (the pre-built OpenAPI
document) under the same load: the ratio shows what the projection lookup itself costs.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import requests

from bench.common import Result, Worker, produce, work_item_events
from hub.broker import EmbeddedBroker, free_port
from hub.topics import ensure_topics


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _load(
    worker: Worker, paths: Callable[[int], str], clients: int, per_client: int
) -> list[float]:
    samples: list[float] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {worker.token}"
        mine = []
        for i in range(per_client):
            path = paths(n * per_client + i)
            started = time.perf_counter()
            response = session.get(worker.url + path, timeout=30)
            mine.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def run(quick: bool) -> list[Result]:
    items, clients = 10_000, (10 if quick else 50)
    per_client = 50 if quick else 100
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap_servers, 4, 1)
        produce(broker.bootstrap_servers, work_item_events(items * 4, keys=items))
        worker = Worker(broker.bootstrap_servers, free_port())
        try:
            worker.wait_running()
            while worker.folded() < items * 4:
                time.sleep(0.2)
            time.sleep(2)  # let the read model catch up with the changelog
            static = _load(worker, lambda i: "/api/v1/openapi.json", clients, per_client)
            keys = _load(
                worker, lambda i: f"/api/v1/workitems/B-{(i * 7919) % items}", clients, per_client
            )
            lists = _load(
                worker,
                lambda i: f"/api/v1/workitems?team=team-{i % 6}&limit=100",
                clients,
                per_client // 5,
            )
        finally:
            worker.stop()
    ms = 1000.0
    note = f"{items} work items, {clients} concurrent clients"
    return [
        Result(
            "query_key_p50",
            statistics.median(keys) * ms,
            "ms",
            statistics.median(static) * ms,
            higher_is_better=False,
            note=note,
        ),
        Result(
            "query_key_p99",
            _percentile(keys, 0.99) * ms,
            "ms",
            _percentile(static, 0.99) * ms,
            higher_is_better=False,
            note=note + "; target < 10 ms",
        ),
        Result(
            "query_list_p50",
            statistics.median(lists) * ms,
            "ms",
            statistics.median(static) * ms,
            higher_is_better=False,
            note=note,
        ),
        Result(
            "query_list_p99",
            _percentile(lists, 0.99) * ms,
            "ms",
            _percentile(static, 0.99) * ms,
            higher_is_better=False,
            note=note + "; target < 50 ms",
        ),
    ]
