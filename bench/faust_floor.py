"""How fast a Faust agent can go doing nothing: iterate ``noack_take`` batches and ack.

Run as a subprocess by ``bench.pipeline`` so the worker's own cost can be told apart from
the stream framework's. Prints events/s on its last line.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import faust

from core.topics import WORKITEMS


def main(bootstrap: str, expected: int) -> None:
    app = faust.App(
        f"floor-{uuid.uuid4().hex[:6]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        broker_session_timeout=6,
        broker_rebalance_timeout=6,
        broker_heartbeat_interval=1,
        key_serializer="raw",
        value_serializer="raw",
        stream_buffer_maxsize=32_768,
        broker_max_poll_records=5_000,
        consumer_max_fetch_size=8 * 1024 * 1024,
        datadir=f"/tmp/hub-floor-{os.getpid()}",
    )
    seen = {"n": 0, "t0": 0.0}

    @app.agent(app.topic(WORKITEMS.name))
    async def drain(stream):  # type: ignore[no-untyped-def]
        async for events in stream.noack_take(5000, within=0.1):
            if not seen["t0"]:
                seen["t0"] = time.perf_counter()
            for event in events:
                await stream.ack(event)
            seen["n"] += len(events)
            if seen["n"] >= expected:
                print(seen["n"] / (time.perf_counter() - seen["t0"]), flush=True)
                os._exit(0)

    faust.Worker(
        app, loglevel="ERROR", quiet=True, redirect_stdouts=False
    ).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
