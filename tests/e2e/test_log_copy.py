"""Copying a topic (backup, compaction) of a hub that keeps writing."""

from __future__ import annotations

import threading
import time

from core.log_reader import record_copies
from core.publish import SyncPublisher
from core.topics import CONNECT_STATUS


def test_a_copy_of_a_topic_being_written_ends_and_holds_all_written_before_it(
    broker: str,
) -> None:
    """A runtime writes connector status every 100 ms, never pausing for a second: the copy
    still ends, and it holds every record written before it began, in order."""
    topic = CONNECT_STATUS.name
    stop = threading.Event()
    written: list[bytes] = []

    def write() -> None:
        with SyncPublisher(broker, origin="test") as out:
            n = 0
            while not stop.is_set():
                value = f"copy-{n}".encode()
                out.publish([(topic, "copy-test", value)])
                written.append(value)
                n += 1
                time.sleep(0.1)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        while len(written) < 20:
            time.sleep(0.05)
        before = list(written)
        copied = [r.value for _, r in record_copies(broker, topic, client_id="test", idle=1.0)]
        assert writer.is_alive()  # the topic never went quiet while it was copied
    finally:
        stop.set()
        writer.join(timeout=10)
    mine = [v for v in copied if v and v.startswith(b"copy-")]
    assert mine[: len(before)] == before
    assert len(mine) < len(written)  # it ended before the writer did
