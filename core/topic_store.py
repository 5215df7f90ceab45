"""Topics every instance reads whole, folded into memory: the base of the hub's stores.

The read model (the projection table's changelog), connector state (the connect topics)
and the alerting store (``hub.alerting``) are one pattern: follow some topics from the
beginning, apply each record, and know when everything that was there at the start has
been read. That last part is an explicit signal, raised by the follower once every
partition reached the high watermark its fetch reported, never a guess from a quiet spell.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from core.follow import follow_topics

__all__ = ["TopicStore"]


class TopicStore(ABC):
    """Subclasses fold one record in ``_apply``; ``version`` counts every record applied."""

    def __init__(self, topics: Sequence[str]) -> None:
        self.topics = tuple(topics)
        self.version = 0
        self._caught_up = threading.Event()  # read from threads and the event loop alike

    @abstractmethod
    def _apply(self, topic: str, key: str, value: Any) -> None:
        """Fold one record (``value`` None: a tombstone) into the store."""

    def apply(self, topic: str, key: str, value: Any) -> None:
        self._apply(topic, key, value)
        self.version += 1

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
            bootstrap_servers, self.topics, self.apply, client_id, on_caught_up=self.mark_caught_up
        )
