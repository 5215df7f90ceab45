"""Replay of the whole log into projections: events/s and peak memory.

Each side runs in a fresh process so its peak RSS is its own. The baseline is the bare
aiokafka consume + decode + fold loop over the same events.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time

from bench.common import Result, produce, work_item_events
from core.topics import ensure_topics
from hub.broker import EmbeddedBroker


def _child(mode: str, bootstrap: str, count: int) -> None:
    if mode == "replay":
        from hub.rebuild import rebuild

        started = time.perf_counter()
        _, report = rebuild(bootstrap)
        rate = report.events / (time.perf_counter() - started)
        events = report.events
    else:
        from bench.pipeline import bare_fold

        rate = asyncio.run(bare_fold(bootstrap, count))
        events = count
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rate": rate, "rss_mb": rss_mb, "events": events}))


def _run_child(mode: str, bootstrap: str, count: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.replay", mode, bootstrap, str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[Result]:
    count = 100_000 if quick else 1_000_000
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap_servers, 4, 1)
        produce(broker.bootstrap_servers, work_item_events(count, keys=10_000))
        base = _run_child("baseline", broker.bootstrap_servers, count)
        replayed = _run_child("replay", broker.bootstrap_servers, count)
    seconds = replayed["events"] / replayed["rate"]
    note = f"{int(replayed['events'])} events; replay took {seconds:.1f}s (target < 60 s at 1M)"
    return [
        Result("replay_throughput", replayed["rate"], "events/s", base["rate"], note=note),
        Result(
            "replay_peak_rss",
            replayed["rss_mb"],
            "MiB",
            base["rss_mb"],
            higher_is_better=False,
            note="target < 1024 MiB at 1M events",
        ),
    ]


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
