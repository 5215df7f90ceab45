"""The query side: every entity's folded state in memory, fed from the table's changelog.

Each worker folds only the partitions it owns, but every worker follows the whole
changelog of the projection table, so any worker answers any query (small-reference-data
"global table" style) and cross-entity views (roadmap rollups, team resources) see all
entities. Views are cached per entity and recomputed when its state changes, or, for work
still open, when the cached view is over a second old (its cycle time grows with now).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from hub.events import utcnow
from hub.follow import follow_topics
from projections.rollups import WorkIndex
from projections.tracking import TRACKING_KEY
from projections.work_items import work_item_view

__all__ = ["ReadModel", "follow_changelog"]

log = structlog.get_logger(__name__)
State = dict[str, Any]
VIEW_TTL = 1.0  # seconds an open item's view may lag behind "now"


class ReadModel:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.entities: dict[str, dict[str, State]] = {}
        self.version = 0
        self.records_applied = 0
        self.caught_up = False  # has read the whole changelog as it was at start
        self._clock = clock
        self._views: dict[str, tuple[State, float, dict[str, Any]]] = {}
        self._index: tuple[int, float, WorkIndex] | None = None

    def apply(self, stream_key: str, state: State | None) -> None:
        kind, _, key = stream_key.partition("/")
        bucket = self.entities.setdefault(kind, {})
        if state is None:
            bucket.pop(key, None)
        else:
            state.pop(TRACKING_KEY, None)  # ids and positions matter to folds, not queries
            bucket[key] = state
        self.version += 1
        self.records_applied += 1

    def get(self, kind: str, key: str) -> State | None:
        return self.entities.get(kind, {}).get(key)

    def work_item_view(self, key: str) -> dict[str, Any] | None:
        state = self.get("work_item", key)
        if state is None:
            return None
        cached = self._views.get(key)
        now = time.monotonic()
        if cached and cached[0] is state:
            view = cached[2]
            if (
                view["status_category"] == "done"
                or view["deleted_at"]
                or now - cached[1] < VIEW_TTL
            ):
                return view
        view = work_item_view(state, self._clock())
        self._views[key] = (state, now, view)
        return view

    def snapshot(self) -> tuple[dict[str, dict[str, State]], WorkIndex]:
        """A consistent copy of every entity and the index over exactly those, for work
        done off the event loop (drift rules) while this model keeps changing."""
        entities = {kind: dict(bucket) for kind, bucket in self.entities.items()}
        views = {
            key: view
            for key in entities.get("work_item", {})
            if (view := self.work_item_view(key)) is not None
        }
        return entities, WorkIndex(entities, self._clock(), views=views)

    def index(self, *, refresh: bool = False) -> WorkIndex:
        """All work item views and the parent tree, at most ``VIEW_TTL`` old.

        A timer refreshes it every second, so list queries never pay for a rebuild;
        key lookups (``work_item_view``) are always current.
        """
        now = time.monotonic()
        fresh = self._index and (self._index[0] == self.version or now - self._index[1] < VIEW_TTL)
        if self._index and fresh and not refresh:
            return self._index[2]
        keys = list(self.entities.get("work_item", {}))
        views = {k: v for k in keys if (v := self.work_item_view(k)) is not None}
        index = WorkIndex(self.entities, self._clock(), views=views)
        self._index = (self.version, now, index)
        return index


async def follow_changelog(bootstrap_servers: str, topic: str, model: ReadModel) -> None:
    """Apply every record of the projection table's changelog to ``model``, forever."""

    def caught_up() -> None:
        model.caught_up = True

    await follow_topics(
        bootstrap_servers,
        [topic],
        lambda _topic, key, value: model.apply(key, value),
        client_id="hub-read-model",
        on_caught_up=caught_up,
    )
