"""A saved read model is loaded at start and only the changelog's newer records are read;
one the log no longer matches is dropped and the changelog read whole."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from core.publish import SyncPublisher
from core.topics import recreate_topic
from hub.read_model import ReadModel


class _Counting(ReadModel):
    """The read model, counting the records it applies."""

    def __init__(self, topic: str) -> None:
        super().__init__(topic)
        self.applied_records = 0

    def _apply(self, topic: str, stream_key: str, state: Any) -> None:
        self.applied_records += 1
        super()._apply(topic, stream_key, state)


def _write(broker: str, topic: str, states: dict[str, int]) -> None:
    with SyncPublisher(broker, origin="test") as out:
        out.publish(
            (topic, f"work_item/{key}", json.dumps({"n": n}).encode()) for key, n in states.items()
        )


async def _follow_until_caught_up(model: ReadModel, broker: str) -> None:
    task = asyncio.create_task(model.follow(broker, "test-read-model"))
    try:
        while not model.caught_up:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _caught_up(topic: str, broker: str, saved: Path) -> tuple[_Counting, bool]:
    model = _Counting(topic)
    loaded = model.load(saved)
    asyncio.run(_follow_until_caught_up(model, broker))
    return model, loaded


def _numbers(model: ReadModel) -> dict[str, int]:
    return {key: state["n"] for key, state in model.entities.get("work_item", {}).items()}


def test_a_loaded_read_model_reads_only_what_came_after_its_save(
    broker: str, tmp_path: Path
) -> None:
    """200 states saved with their positions; after 10 more writes a new model loaded from
    the save applies only those 10 (and each partition's last saved record, read again to
    check it) and holds every key's latest state."""
    topic = f"changelog-{uuid.uuid4().hex[:8]}"
    recreate_topic(broker, topic, 4, 1, compacted=False)
    saved = tmp_path / "read-model.json"
    _write(broker, topic, {f"K{k}": 1 for k in range(200)})
    first, loaded = _caught_up(topic, broker, saved)
    assert not loaded and first.applied_records == 200
    first.save(saved)
    _write(broker, topic, {f"K{k}": 2 for k in range(10)})
    second, loaded = _caught_up(topic, broker, saved)
    assert loaded
    assert second.applied_records == 10 + 4  # the new ones + one re-read per partition
    assert _numbers(second) == {f"K{k}": 2 if k < 10 else 1 for k in range(200)}


def test_a_save_the_log_no_longer_matches_is_dropped(broker: str, tmp_path: Path) -> None:
    """The topic recreated with other records since the save (a restore, a new log): the
    loaded state is thrown away and the model holds exactly what the topic now says."""
    topic = f"changelog-{uuid.uuid4().hex[:8]}"
    recreate_topic(broker, topic, 4, 1, compacted=False)
    saved = tmp_path / "read-model.json"
    _write(broker, topic, {f"K{k}": 1 for k in range(200)})
    first, _ = _caught_up(topic, broker, saved)
    first.save(saved)
    recreate_topic(broker, topic, 4, 1, compacted=False)
    _write(broker, topic, {f"N{k}": 3 for k in range(300)})
    second, loaded = _caught_up(topic, broker, saved)
    assert loaded
    assert _numbers(second) == {f"N{k}": 3 for k in range(300)}


def test_an_unreadable_save_reads_the_log_whole(broker: str, tmp_path: Path) -> None:
    """A save cut short (not JSON) or of another topic is not loaded; the log is read."""
    topic = f"changelog-{uuid.uuid4().hex[:8]}"
    recreate_topic(broker, topic, 4, 1, compacted=False)
    _write(broker, topic, {f"K{k}": 1 for k in range(20)})
    torn = tmp_path / "torn.json"
    torn.write_bytes(b'{"format": 1, "topics": [')
    model, loaded = _caught_up(topic, broker, torn)
    assert not loaded and model.applied_records == 20
    other = tmp_path / "other.json"
    _Counting("another-topic").save(other)
    model, loaded = _caught_up(topic, broker, other)
    assert not loaded and _numbers(model) == {f"K{k}": 1 for k in range(20)}
