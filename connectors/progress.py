"""How far a connector's backfill has come: kept in its status, shown on the console.

A first sync (or one after a cursor reset) pulls a source's whole history, which takes
minutes on a big Jira; people starting the hub should see each connector moving rather
than a quiet console. Sources do not agree on a total to count against (Jira's search
gives one, incremental exports do not), but every connector pulls in order of change
time, so the share of time covered is the one measure all five have: from the oldest
change the backfill met to now, how far the newest one has come.

The record lives in the connector's status (``backfill``), so it survives a runtime
restart: a backfill cut short resumes from its committed cursor and goes on counting.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from core.events import iso, parse_utc

__all__ = ["Backfill", "BackfillView", "REPORT_EVERY_SECONDS", "Throttle", "view"]

# How often a running backfill is written to the status topic: often enough for a live
# display, rarely enough that a long backfill adds few records to a compacted topic.
REPORT_EVERY_SECONDS = 2.0
# A sync never reports 100% before it has ended: the newest change it met can be a
# second old while later pages are still coming.
NOT_DONE_CAP = 0.99


@dataclass
class Backfill:
    """The running count of one backfill, as written to the status topic."""

    started_at: str
    events: int = 0
    pages: int = 0
    oldest: str | None = None  # the oldest change the backfill met
    newest: str | None = None  # the newest change so far
    done: bool = False
    seconds: float = 0.0  # time spent so far, across restarts

    @classmethod
    def begin(cls, now: datetime) -> Backfill:
        return cls(started_at=iso(now))

    @classmethod
    def resume(cls, record: Mapping[str, Any]) -> Backfill:
        """Go on counting a backfill an earlier runtime left unfinished."""
        fields = {k: record[k] for k in cls.__dataclass_fields__ if k in record}
        return cls(**fields)

    def add(self, occurred: Iterable[datetime], seconds: float) -> None:
        """One page: the change times of its events, and the time the page took."""
        self.pages += 1
        self.seconds = round(self.seconds + seconds, 3)
        for at in occurred:
            self.events += 1
            stamp = iso(at)  # fixed width: compares as it sorts
            if self.oldest is None or stamp < self.oldest:
                self.oldest = stamp
            if self.newest is None or stamp > self.newest:
                self.newest = stamp

    def finish(self) -> None:
        self.done = True

    def record(self) -> dict[str, Any]:
        return asdict(self)


class Throttle:
    """True at most once every ``every`` seconds (monotonic)."""

    def __init__(self, every: float = REPORT_EVERY_SECONDS) -> None:
        self.every, self.last = every, float("-inf")

    def due(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if now - self.last < self.every:
            return False
        self.last = now
        return True


@dataclass(frozen=True)
class BackfillView:
    """What a display shows for one connector's backfill."""

    connector: str
    events: int
    pages: int
    fraction: float  # 0..1, the share of the source's history covered
    through: datetime | None  # the newest change so far
    events_per_second: float
    eta_seconds: float | None
    done: bool
    seconds: float


def view(connector: str, record: Mapping[str, Any], now: datetime) -> BackfillView:
    """A status's ``backfill`` record seen at ``now``: the share of time covered, the
    rate, and the time left at that rate."""
    oldest = parse_utc(record["oldest"]) if record.get("oldest") else None
    newest = parse_utc(record["newest"]) if record.get("newest") else None
    done = bool(record.get("done"))
    seconds = float(record.get("seconds") or 0.0)
    events = int(record.get("events") or 0)
    if done:
        fraction = 1.0
    elif oldest is None or newest is None or now <= oldest:
        fraction = 0.0
    else:
        span = (now - oldest).total_seconds()
        fraction = min(NOT_DONE_CAP, max(0.0, (newest - oldest).total_seconds() / span))
    rate = events / seconds if seconds > 0 else 0.0
    eta = None
    if not done and fraction > 0 and seconds > 0:
        eta = seconds * (1 - fraction) / fraction
    return BackfillView(
        connector=connector,
        events=events,
        pages=int(record.get("pages") or 0),
        fraction=fraction,
        through=newest.astimezone(UTC) if newest else None,
        events_per_second=rate,
        eta_seconds=eta,
        done=done,
        seconds=seconds,
    )
