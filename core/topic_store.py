"""Topics every instance reads whole, folded into memory: the base of the hub's stores.

The read model (the projection table's changelog), connector state (the connect topics)
and the alerting store (``hub.alerting``) are one pattern: follow some topics from the
beginning, apply each record, and know when everything that was there at the start has
been read. That last part is an explicit signal, raised by the follower once every
partition reached the high watermark its fetch reported, never a guess from a quiet spell.

A store whose topics are big (the read model) can also be saved with where it stands in
each partition, and loaded at the next start to read only what came after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import structlog
from pydantic_core import from_json, to_json

from core.follow import Applied, follow_topics

__all__ = ["Following", "Journal", "SavedTopicStore", "TopicStore"]

log = structlog.get_logger(__name__)
SAVE_FORMAT = 1


class Journal:
    """The records a store applied since someone began keeping its journal, up to
    ``limit``: what a copy of the store made then (a standing fork, ``hub.forked``)
    applies to be the same again. Past the limit, or when the store changed other than
    by a record (a saved state loaded, a stale one cleared), the journal is ``lost`` and
    the copy must be made anew."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.records: list[tuple[str, str, Any]] = []
        self.lost = False

    def add(self, topic: str, key: str, value: Any) -> None:
        if self.lost:
            return
        if len(self.records) >= self.limit:
            self.lose()
            return
        self.records.append((topic, key, value))

    def lose(self) -> None:
        self.lost, self.records = True, []

    def take(self) -> list[tuple[str, str, Any]]:
        """The records kept so far, which the journal then forgets."""
        records, self.records = self.records, []
        return records


class TopicStore(ABC):
    """Subclasses fold one record in ``_apply``; ``version`` counts every record applied."""

    def __init__(self, topics: Sequence[str]) -> None:
        self.topics = tuple(topics)
        self.version = 0
        self.applied: Applied = {}  # where the store stands in each partition
        self.behind = 0  # records on its topics not read yet, as of the last fetch
        self._caught_up = threading.Event()  # read from threads and the event loop alike
        self.journal: Journal | None = None  # kept while a copy of the store follows it

    @abstractmethod
    def _apply(self, topic: str, key: str, value: Any) -> None:
        """Fold one record (``value`` None: a tombstone) into the store."""

    def apply(self, topic: str, key: str, value: Any) -> None:
        self._apply(topic, key, value)
        self.version += 1
        if self.journal is not None:
            self.journal.add(topic, key, value)

    @property
    def caught_up(self) -> bool:
        """Has read every record that was on its topics when it started following."""
        return self._caught_up.is_set()

    def mark_caught_up(self) -> None:
        self._caught_up.set()

    def wait_caught_up(self, timeout: float) -> bool:
        """Block (a thread, not the event loop) until caught up; False on timeout."""
        return self._caught_up.wait(timeout)

    async def follow(self, bootstrap_servers: str, client_id: str) -> None:
        """Apply the topics' records forever, raising the caught-up signal on the way."""
        await follow_topics(
            bootstrap_servers,
            self.topics,
            self.apply,
            client_id,
            on_caught_up=self.mark_caught_up,
            applied=self.applied,
            on_stale=self._stale_handler(),
            on_behind=self._set_behind,
        )

    def follow_in_background(self, bootstrap_servers: str, client_id: str) -> Following:
        """``follow`` in a daemon thread of its own, for code that is not async (the
        connector runtime, the console's progress display); wait on ``wait_caught_up``."""
        return Following(lambda: self.follow(bootstrap_servers, client_id), client_id)

    def _set_behind(self, records: int) -> None:
        self.behind = records

    def _stale_handler(self) -> Callable[[], None] | None:
        """What runs when the state loaded at start no longer matches the log: nothing
        here, since only a ``SavedTopicStore`` is ever loaded."""
        return None


class SavedTopicStore(TopicStore):
    """A store too big to read whole at every start: saved with where it stands in each
    partition, and loaded at the next start to read only what came after."""

    @abstractmethod
    def _dump(self) -> Any:
        """The store's state as JSON-ready data."""

    @abstractmethod
    def _restore(self, state: Any) -> None:
        """Take back what ``_dump`` gave."""

    @abstractmethod
    def _clear(self) -> None:
        """Forget a loaded state that the log no longer matches."""

    def _stale_handler(self) -> Callable[[], None] | None:
        return self._cleared

    def _cleared(self) -> None:
        self._clear()
        if self.journal is not None:  # not a record: a copy cannot follow it
            self.journal.lose()

    def save(self, path: Path) -> None:
        """Write the state and where it stands to ``path``; whole or not at all (a copy
        renamed over it), so a stop cut short leaves the previous save."""
        document = {
            "format": SAVE_FORMAT,
            "topics": list(self.topics),
            "applied": [[t, p, offset, key] for (t, p), (offset, key) in self.applied.items()],
            "state": self._dump(),
        }
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(to_json(document))
        os.replace(partial, path)
        log.info("saved", store=type(self).__name__, path=str(path), bytes=path.stat().st_size)

    def load(self, path: Path) -> bool:
        """Take a saved state back before following; False (and nothing taken) when there
        is none or it is unreadable or of other topics: the topics are then read whole."""
        try:
            document = from_json(path.read_bytes())
            if document["format"] != SAVE_FORMAT or document["topics"] != list(self.topics):
                raise ValueError("saved for another format or other topics")
            applied = {(t, p): (offset, key) for t, p, offset, key in document["applied"]}
            self._restore(document["state"])
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "saved state unusable: reading the log whole", path=str(path), error=str(exc)
            )
            return False
        self.applied = applied
        self.version += 1
        if self.journal is not None:
            self.journal.lose()
        return True


class Following:
    """A ``follow`` running in a thread with its own event loop, until ``stop``: stopped
    before the broker goes, its consumer closes cleanly instead of logging lost fetches."""

    def __init__(self, follow: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._task = self._loop.create_task(follow())  # runs once the thread runs the loop
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(self._task)
        finally:
            self._loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(RuntimeError):  # the loop already ended and closed
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout)
