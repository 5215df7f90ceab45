"""Feedback themes in the worker: the requests the read model holds, grouped and weighed.

Every worker follows the whole read model, so every worker builds the same themes from
the same requests (``themes.model`` is deterministic given the set). A request's text is
embedded once and kept; between rebuilds a new request joins its nearest theme within a
tick, and a rebuild (when requests changed, at most every ``rebuild_seconds``) lets new
themes form. Embedding and grouping run in a thread, off the event loop the fold loop and
the API share. The numbers behind a theme (accounts, ARR, open requests, weekly trend)
come from the same request views the requests API serves.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import structlog

from core.events import utcnow
from hub.read_model import ReadModel
from projections.roadmap import plan_at
from projections.rollups import Entities, WorkIndex, request_view
from projections.themes import decisions
from themes.embedding import DIMENSIONS, Embedder
from themes.model import (
    UNCLASSIFIED,
    Embeds,
    Feedback,
    Theme,
    ThemeSet,
    apply_decisions,
    build_themes,
    classifiable,
)

__all__ = ["SORTS", "ThemeService", "suggestions", "theme_views", "themed_requests"]

log = structlog.get_logger(__name__)
SORTS = ("arr", "requests", "growth")
TREND_WEEKS = 8
SUGGESTION_FLOOR = 0.3  # cosine similarity below which a roadmap item is no suggestion
MIN_REBUILD_GAP = 30.0  # seconds between rebuilds brought on by growth alone
PROGRESS_EVERY = 2_000  # requests embedded between progress lines during a backfill


class _CachedEmbeddings:
    """An ``Embeds`` that embeds each distinct text once and remembers it."""

    def __init__(self, embedder: Embeds) -> None:
        self.embedder = embedder
        self.vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        missing = sorted({t for t in texts if t not in self.vectors})
        started, total = time.monotonic(), len(missing)
        for done in range(0, total, PROGRESS_EVERY):
            chunk = missing[done : done + PROGRESS_EVERY]
            for text, vector in zip(chunk, self.embedder.embed(chunk), strict=True):
                self.vectors[text] = vector
            if total > PROGRESS_EVERY:  # a backfill: say how far it is
                finished = done + len(chunk)
                rate = finished / max(time.monotonic() - started, 1e-6)
                log.info(
                    "embedding requests for themes",
                    done=finished,
                    total=total,
                    per_second=round(rate),
                    seconds_left=round((total - finished) / rate),
                )
        return np.array([self.vectors[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)


def _feedback(entities: Entities) -> list[Feedback]:
    return [
        Feedback(key, state.get("text"))
        for key, state in entities.get("customer_request", {}).items()
    ]


class ThemeService:
    """The current themes of the live read model, and themes as of any moment."""

    def __init__(
        self,
        read_model: ReadModel,
        embedder: Embeds | None = None,
        *,
        rebuild_seconds: float = 600.0,
        tick_seconds: float = 1.0,
    ) -> None:
        self.read_model = read_model
        self.embeddings = _CachedEmbeddings(embedder or Embedder())
        self.rebuild_seconds, self.tick_seconds = rebuild_seconds, tick_seconds
        self.current: ThemeSet | None = None
        self.built_at: datetime | None = None
        self._built_monotonic = 0.0
        self._built_over: dict[str, str | None] = {}
        self._lock = asyncio.Lock()
        self._decided_cache: tuple[ThemeSet, Any, ThemeSet] | None = None
        # The read model's version when the themes were last built over every request.
        self._settled_version = -1
        # The requests changed since the current build (new ones joined it): the next
        # rebuild is owed even if nothing more is folded.
        self._unbuilt = False

    async def run(self) -> None:
        """The worker task: keep the themes current while the worker runs."""
        while True:
            try:
                await self.refresh()
            except Exception:  # a bad tick must not end the task; the next one retries
                log.exception("themes refresh failed")
            await asyncio.sleep(self.tick_seconds)

    async def refresh(self) -> ThemeSet | None:
        """Rebuild when requests changed and the last build is old enough; otherwise let
        requests that arrived since join their nearest theme."""
        if not self.read_model.caught_up:
            return self.current
        version = self.read_model.version
        if version == self._settled_version and self.current is not None and not self._owed():
            # Nothing folded since every request was last found placed (built over, or
            # joined): listing and comparing 12k requests every second held the API at
            # scale, 30-40 ms a second at 50x the demo while joined requests waited for
            # the next rebuild.
            return self.current
        async with self._lock:
            feedback = _feedback(self.read_model.entities)
            texts = {f.key: f.text for f in feedback}
            if texts == self._built_over and self.current is not None:
                self._settled_version = version
                return self.current
            # Rebuild on the interval; at once while requests pour in (a first start,
            # doubling); and after a tenth more arrived, at most every half minute (the
            # end of a backfill), so late arrivals do not wait ten minutes to be grouped.
            elapsed = time.monotonic() - self._built_monotonic
            before = len(self._built_over)
            due = elapsed >= self.rebuild_seconds or len(texts) >= 2 * before + 10
            due = due or (len(texts) > 1.1 * before + 10 and elapsed >= MIN_REBUILD_GAP)
            if self.current is None or due:
                self.current = await asyncio.to_thread(build_themes, feedback, self.embeddings)
                self.built_at = utcnow()
                self._built_monotonic = time.monotonic()
                self._built_over = texts
                self._settled_version = version
                self._unbuilt = False
                return self.current
            await self._join_new(texts)
            self._settled_version, self._unbuilt = version, True
            return self.current

    def _owed(self) -> bool:
        """The interval's rebuild, when the requests changed since the last build: those
        that joined their nearest theme are placed, but grouped anew only by a build."""
        elapsed = time.monotonic() - self._built_monotonic
        return self._unbuilt and elapsed >= self.rebuild_seconds

    async def _join_new(self, texts: Mapping[str, str | None]) -> None:
        current = self.current
        assert current is not None
        new = {k: t for k, t in texts.items() if current.theme_of(k) is None}
        usable = {k: t for k, t in new.items() if classifiable(t)}
        vectors = await asyncio.to_thread(self.embeddings.embed, [t or "" for t in usable.values()])
        for key, vector in zip(usable, vectors, strict=True):
            current.join(key, vector, usable[key] or "")
        for key in sorted(set(new) - set(usable)):
            current.set_aside(key)

    async def themes(self, entities: Entities | None = None) -> ThemeSet:
        """The live themes (built now if none yet) with people's decisions applied, or
        those of ``entities`` (as of a past moment: the same pipeline over the requests
        and decisions that existed then)."""
        if entities is None:
            current = await self.refresh()
            if current is not None:
                return await self._decided(current, self.read_model.entities)
            entities = self.read_model.entities
        built = await asyncio.to_thread(build_themes, _feedback(entities), self.embeddings)
        return await self._decided(built, entities)

    async def settled(self) -> ThemeSet | None:
        """The themes as last built, with decisions, never building: for readers on a
        schedule (the drift rules) that must not wait for a build, nor cause one."""
        current = self.current
        return None if current is None else await self._decided(current, self.read_model.entities)

    async def _decided(self, built: ThemeSet, entities: Entities) -> ThemeSet:
        edits = entities.get("theme", {})
        # The same build (held, not its id(): a freed build's id can be reused), as many
        # requests placed in it, and the same edits: the same answer.
        signature = (
            sum(len(t.members) for t in built.themes) + len(built.unclassified),
            tuple(sorted((k, len(s["edits"])) for k, s in edits.items())),
        )
        cached = self._decided_cache
        if cached is not None and cached[0] is built and cached[1] == signature:
            return cached[2]
        decided = {key: decisions(state) for key, state in edits.items()}
        applied = await asyncio.to_thread(apply_decisions, built, decided, self.embeddings)
        self._decided_cache = (built, signature, applied)
        return applied

    def vector(self, text: str) -> np.ndarray:
        return self.embeddings.embed([text])[0]


def _name(theme: Theme | None) -> str:
    if theme is None:
        return UNCLASSIFIED
    return theme.name or (", ".join(theme.label) if theme.label else theme.id)


def _at(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _before(moment: datetime, delta: timedelta) -> datetime:
    """``moment - delta``, or the earliest moment there is (an ``as_of`` in year 1)."""
    try:
        return moment - delta
    except OverflowError:
        return datetime.min.replace(tzinfo=moment.tzinfo)


def theme_views(
    themes: ThemeSet, entities: Entities, index: WorkIndex, now: datetime
) -> list[dict[str, Any]]:
    """Each theme with the demand behind it, the unclassified bucket last."""
    views = {
        key: request_view(state, entities, index)
        for key, state in entities.get("customer_request", {}).items()
    }
    accounts = entities.get("customer_account", {})

    def arr(owners: Iterable[str]) -> float:
        live = (accounts.get(a) or {} for a in set(owners))
        return float(sum(a.get("arr") or 0 for a in live if not a.get("deleted_at")))

    weeks = [_week(_before(now, timedelta(weeks=n))) for n in reversed(range(TREND_WEEKS))]
    week_ago, fortnight_ago = _before(now, timedelta(days=7)), _before(now, timedelta(days=14))
    month_before = _before(now, timedelta(days=35))
    out = []
    buckets: list[tuple[Theme | None, list[str]]] = [(t, t.members) for t in themes.themes]
    buckets.append((None, themes.unclassified))
    for theme, members in buckets:
        requests = [views[k] for k in members if k in views]
        if theme is None and not requests:
            continue
        owners = sorted({r["account"] for r in requests if r["account"]})
        opened = sorted(
            ((_at(r["opened_at"]), r) for r in requests if r["opened_at"]), key=lambda p: p[0]
        )
        per_week = Counter(_week(at) for at, _ in opened)
        recent = [r for at, r in opened if at >= week_ago]
        before = sum(1 for at, _ in opened if fortnight_ago <= at < week_ago)
        earlier = [r for at, r in opened if month_before <= at < week_ago]
        older = {r["account"] for at, r in opened if at < week_ago}
        waiting = [r for r in requests if not r["closed_at"] and not r["delivered_at"]]
        out.append(
            {
                "id": theme.id if theme else UNCLASSIFIED,
                "name": _name(theme),
                "renamed": bool(theme and theme.name),
                "terms": theme.label if theme else [],
                "roadmap_items": theme.links if theme else [],
                "requests": len(requests),
                "open": len(waiting),
                "closed": len(requests) - len(waiting),
                "accounts": owners,
                "account_count": len(owners),
                "arr": arr(owners),
                "open_arr": arr(r["account"] for r in waiting if r["account"]),
                "first_seen": opened[0][1]["opened_at"] if opened else None,
                "last_seen": opened[-1][1]["opened_at"] if opened else None,
                "trend": [{"week": w, "requests": per_week.get(w, 0)} for w in weeks],
                "last_7_days": len(recent),
                "growth": len(recent) - before,
                "weekly_average_before": round(len(earlier) / 4, 2),
                "new_arr_7_days": arr(
                    r["account"] for r in recent if r["account"] and r["account"] not in older
                ),
                "quotes": theme.quotes if theme else [],
                "request_keys": sorted(members),
                # customers behind it, no roadmap item people tied it to, and most of
                # its open requests not linked to planned work either
                "unaddressed": bool(theme and owners and not theme.links)
                and 2 * sum(1 for r in waiting if r["work_items"] or r["roadmap_items"])
                < max(len(waiting), 1),
            }
        )
    return out


def suggestions(
    theme: Theme, entities: Entities, index: WorkIndex, vector_of: Any, limit: int = 3
) -> list[dict[str, Any]]:
    """Roadmap items this theme may be about: cosine similarity of the theme's centre with
    each item's title and its epics' summaries, best first, above ``SUGGESTION_FLOOR``."""
    scored: list[tuple[float, str, Any]] = []
    for key, state in entities.get("roadmap_item", {}).items():
        if state.get("removed_at"):
            continue
        plan = plan_at(state) or {}
        members = index.members(key, plan)
        epics = sorted(
            str(index.stable[m].get("title") or "")
            for m in members
            if m in index.stable and index.stable[m].get("type") == "Epic"
        )
        words = ". ".join([str(plan.get("title") or key), *epics])
        score = float(vector_of(words) @ theme.centroid)
        if score >= SUGGESTION_FLOOR:
            scored.append((round(score, 3), key, plan.get("title")))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [{"roadmap_item": k, "title": t, "score": score} for score, k, t in scored[:limit]]


def themed_requests(themes: ThemeSet) -> dict[str, set[str]]:
    """Roadmap item -> the requests of the themes people linked to it: demand the item's
    own links do not show."""
    linked: dict[str, set[str]] = {}
    for theme in themes.themes:
        for item in theme.links:
            linked.setdefault(item, set()).update(theme.members)
    return linked
