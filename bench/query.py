"""Query latency at 10,000 work items under concurrent clients.

The baseline is the same server's cheapest authenticated route (the pre-built OpenAPI
document) under the same load: the ratio shows what the projection lookup itself costs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

from bench.common import Result, Worker, produce, work_item_events
from core.topics import ensure_topics
from hub.broker import EmbeddedBroker, free_port

KEY_RATE = 10.0  # requests a second per client: 50 clients -> 500 key lookups a second
LIST_RATE = 2.0  # list pages a second per client: 50 clients -> 100 lists of 100 a second


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _paced(
    worker: Worker, paths: Callable[[int], str], clients: int, rate: float, seconds: float
) -> list[float]:
    """``clients`` connections, each sending ``rate`` requests a second on a fixed schedule.

    Latency runs from when a request was due, not from when it went out, so a server that
    stalls is charged for the requests that queued behind the stall (no coordinated
    omission). An open load like this, not clients firing back to back, is what a query
    service meets from dashboards and bots: back-to-back clients only measure the queue
    they build themselves.
    """
    import aiohttp

    loop = asyncio.get_running_loop()
    samples: list[float] = []
    per_client = int(rate * seconds)
    interval = 1.0 / rate
    headers = {"Authorization": f"Bearer {worker.token}"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def client(n: int) -> None:
            start = loop.time() + interval * n / clients  # spread the clients over a tick
            for i in range(per_client):
                due = start + i * interval
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                path = paths(n * per_client + i)
                async with session.get(worker.url + path) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
                samples.append(loop.time() - due)

        await asyncio.gather(*(client(n) for n in range(clients)))
    return samples


def _load(
    worker: Worker, paths: Callable[[int], str], clients: int, rate: float, seconds: float
) -> list[float]:
    return asyncio.run(_paced(worker, paths, clients, rate, seconds))


def run(quick: bool) -> list[Result]:
    items, clients = 10_000, (10 if quick else 50)
    seconds = 10.0 if quick else 30.0
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap_servers, 4, 1)
        produce(broker.bootstrap_servers, work_item_events(items * 4, keys=items))
        worker = Worker(broker.bootstrap_servers, free_port())
        try:
            worker.wait_running()
            while worker.folded() < items * 4:
                time.sleep(0.2)
            time.sleep(2)  # let the read model catch up with the changelog
            static = _load(worker, lambda i: "/api/v1/openapi.json", clients, KEY_RATE, seconds)
            keys = _load(
                worker,
                lambda i: f"/api/v1/workitems/B-{(i * 7919) % items}",
                clients,
                KEY_RATE,
                seconds,
            )
            lists = _load(
                worker,
                lambda i: f"/api/v1/workitems?team=team-{i % 6}&limit=100",
                clients,
                LIST_RATE,
                seconds,
            )
        finally:
            worker.stop()
    ms = 1000.0
    note = (
        f"{items} work items, {clients} concurrent clients; key lookups {KEY_RATE:g}/s and "
        f"lists {LIST_RATE:g}/s per client; baseline: the pre-built OpenAPI document at "
        "the key lookups' rate"
    )
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
