"""The query side: every entity's folded state in memory, fed from the table's changelog.

Each worker folds only the partitions it owns, but every worker follows the whole
changelog of the projection table, so any worker answers any query (small-reference-data
"global table" style) and cross-entity views (roadmap rollups, team resources) see all
entities. Each work item's clock-independent view is cached per state and recomputed only
when the state changes; the numbers that grow with the clock are finished per query.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from core.events import utcnow
from core.topic_store import SavedTopicStore
from projections.rollups import WorkIndex
from projections.tracking import TRACKING_KEY
from projections.work_items import ViewBase, view_at, view_base

__all__ = ["ReadModel"]

log = structlog.get_logger(__name__)
State = dict[str, Any]
INDEX_TTL = 1.0  # seconds a list query may lag behind the changelog
WARM_FOR = 60.0  # seconds after the last query the index is still rebuilt ahead of need
QUIET_FOR = 2.0  # seconds without a change that end a burst: the index is rebuilt then


class ReadModel(SavedTopicStore):
    """Every entity's folded state, from the projection table's changelog, and the
    work-item index that list queries and the drift rules read."""

    def __init__(
        self,
        changelog: str,
        clock: Callable[[], datetime] = utcnow,
        ignore: Callable[[str], bool] = lambda key: False,
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        """``ignore``: changelog keys that are bookkeeping, not entities (checkpoints);
        ``ticks``: the monotonic seconds the index's freshness and warm-up go by."""
        super().__init__([changelog])
        self._ignore = ignore
        self.entities: dict[str, dict[str, State]] = {}
        self._clock = clock
        self._ticks = ticks
        self._bases: dict[str, tuple[State, ViewBase]] = {}
        self._dirty: set[str] = set()  # work items whose state changed since their base
        self._index: tuple[int, float, WorkIndex] | None = None
        self._queried_at = -WARM_FOR
        self._seen = (0, 0.0)  # the version keep_warm last saw, and when it first saw it

    def apply(self, topic: str, stream_key: str, state: State | None) -> None:
        # Checkpoint rows are bookkeeping: they change no entity, so no version either
        # (a version change rebuilds the index and wakes the drift rules).
        if not self._ignore(stream_key):
            super().apply(topic, stream_key, state)

    def _apply(self, _topic: str, stream_key: str, state: State | None) -> None:
        kind, _, key = stream_key.partition("/")
        bucket = self.entities.setdefault(kind, {})
        if state is None:
            bucket.pop(key, None)
        else:
            state.pop(TRACKING_KEY, None)  # ids and positions matter to folds, not queries
            bucket[key] = state
        if kind == "work_item":
            self._dirty.add(key)

    def _dump(self) -> dict[str, dict[str, State]]:
        return self.entities

    def _restore(self, state: dict[str, dict[str, State]]) -> None:
        self.entities, self._bases, self._index = state, {}, None
        self._dirty = set(state.get("work_item", {}))

    def _clear(self) -> None:
        self._restore({})

    def size(self) -> int:
        """Entities held, of every kind."""
        return sum(len(bucket) for bucket in self.entities.values())

    def get(self, kind: str, key: str) -> State | None:
        return self.entities.get(kind, {}).get(key)

    def _base(self, key: str, state: State) -> ViewBase:
        cached = self._bases.get(key)
        if cached is not None and cached[0] is state:
            return cached[1]
        base = view_base(state)
        self._bases[key] = (state, base)
        return base

    def _refresh_bases(self) -> None:
        """Recompute the views' clock-independent part for the items changed since the
        last refresh, and only those: cheap enough to run every second while a backfill
        streams in, so the next index build is a copy, not 100k views computed at once."""
        states = self.entities.get("work_item", {})
        for key in self._dirty:
            state = states.get(key)
            if state is None:
                self._bases.pop(key, None)
            else:
                self._base(key, state)
        self._dirty.clear()

    def _all_bases(self) -> dict[str, ViewBase]:
        self._refresh_bases()
        states = self.entities.get("work_item", {})
        return {key: self._base(key, state) for key, state in states.items()}

    def work_item_view(self, key: str) -> dict[str, Any] | None:
        state = self.get("work_item", key)
        return None if state is None else view_at(self._base(key, state), self._clock())

    def snapshot(self) -> tuple[dict[str, dict[str, State]], WorkIndex]:
        """A consistent copy of every entity and the index over exactly those, for work
        done off the event loop (drift rules) while this model keeps changing."""
        entities = {kind: dict(bucket) for kind, bucket in self.entities.items()}
        return entities, WorkIndex(entities, self._clock(), bases=self._all_bases())

    def as_forked(self) -> tuple[dict[str, dict[str, State]], WorkIndex]:
        """Every entity and an index over them, uncopied: for a forked child, whose memory
        already is a snapshot (``hub.forked``); copying 100k entities there is waste. The
        index the queries read is reused when it is current (``keep_warm`` keeps it so):
        building another is half a second of the child's work at 100k items."""
        if self._index is not None and self._index[0] == self.version:
            index = self._index[2]
            return self.entities, index.at(self._clock())
        index = WorkIndex(self.entities, self._clock(), bases=self._all_bases())
        # Kept for the next call: a standing fork (``hub.forked.StandingFork``) asks again
        # at every evaluation, and its model changes only by the records it replays.
        self._index = (self.version, self._ticks(), index)
        return self.entities, index

    def index(self) -> WorkIndex:
        """Every work item and the parent tree; rebuilt when the model changed and the last
        build is over ``INDEX_TTL`` old, recomputing only the items whose state changed."""
        self._queried_at = self._ticks()
        return self._current_index()

    def keep_warm(self) -> None:
        """Keep the index ready ahead of queries: every changed item's base at once (a
        first list query after a backfill must not compute 100k of them, 5 s with every
        request behind it waiting); the first index as soon as the model has caught up;
        a rebuild after changes while someone is querying, so a list query after a burst
        of changes does not pay for it; once more when a burst ends, so the first list
        query after a quiet backfill does not either (0.3 s at 100k items, with every
        query behind it waiting); and each index's list orderings with it."""
        self._refresh_bases()
        now = self._ticks()
        if self._seen[0] != self.version:
            self._seen = (self.version, now)
        first = self._index is None and self.caught_up and bool(self.entities)
        stale = self._index is not None and self._index[0] != self.version
        settled = stale and self.caught_up and now - self._seen[1] >= QUIET_FOR
        if first or settled or now - self._queried_at < WARM_FOR:
            self._current_index().prepare_lists()

    def _current_index(self) -> WorkIndex:
        now = self._ticks()
        if self._index and (self._index[0] == self.version or now - self._index[1] < INDEX_TTL):
            return self._index[2]
        # A copy, so a query reading the index and the entities together never meets an
        # entity the index has not seen yet (it may be up to INDEX_TTL behind the changes).
        entities = {kind: dict(bucket) for kind, bucket in self.entities.items()}
        index = WorkIndex(entities, self._clock(), bases=self._all_bases())
        self._index = (self.version, now, index)
        return index
