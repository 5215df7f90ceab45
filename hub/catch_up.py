"""Catch-up progress for ``hub up``: how far the worker is from the end of the log.

After a restart the worker folds what arrived while it was down and its read model reads
the changelog's newer records; on a first start with a big log that is minutes of work.
People watching the console should see it moving, with a rate and an estimate, and a
line when it is done, rather than a quiet API that answers with old numbers. The numbers
come from the worker's own ``/health`` (fold lag per source topic, read model caught up),
which needs no token.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
import structlog

__all__ = ["CatchUpWatch", "Progress", "progress"]

log = structlog.get_logger(__name__)
EVERY_SECONDS = 5.0
QUIET_BELOW = 1000  # events behind that are ordinary live traffic, not a catch-up


@dataclass(frozen=True)
class Progress:
    """One look at the worker: events not yet folded, and whether queries are current
    (the read model has read its changelog to within a little of its end)."""

    at: float  # monotonic seconds
    behind: int
    read_model_current: bool
    worker: str = "running"  # or recovering, rebalancing, joining (see /health)

    @property
    def caught_up(self) -> bool:
        return self.worker == "running" and self.behind < QUIET_BELOW and self.read_model_current


def progress(health: dict[str, Any], at: float) -> Progress | None:
    """The progress a ``/health`` body shows; None while the worker is still starting."""
    worker = (health.get("worker") or {}).get("state")
    if worker in (None, "starting"):
        return None
    lag = health.get("lag") or {}
    read_model = health.get("read_model") or {}
    current = bool(read_model.get("caught_up")) and read_model.get("behind", 0) < QUIET_BELOW
    return Progress(at, int(sum(lag.values())), current, str(worker))


def report(before: Progress | None, now: Progress, started: float) -> dict[str, Any] | None:
    """What to log for ``now`` (after ``before``): None while there is nothing to say."""
    if now.caught_up:
        return None
    if now.worker != "running":  # e.g. its tables read back from the changelog
        return {"worker": now.worker, "for_seconds": round(now.at - started)}
    fields: dict[str, Any] = {
        "events_to_fold": now.behind,
        "read_model": "current" if now.read_model_current else "loading",
        "for_seconds": round(now.at - started),
    }
    if before is not None and now.at > before.at and before.behind > now.behind:
        rate = (before.behind - now.behind) / (now.at - before.at)
        fields["events_per_second"] = round(rate)
        fields["eta_seconds"] = round(now.behind / rate)
    return fields


class CatchUpWatch:
    """Polls the worker's ``/health`` in a thread; logs while it catches up, once when done."""

    def __init__(self, health_url: str) -> None:
        self.url = health_url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="catch-up", daemon=True)

    def start(self) -> CatchUpWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _look(self) -> Progress | None:
        try:
            return progress(requests.get(self.url, timeout=2).json(), time.monotonic())
        except (requests.RequestException, ValueError):
            return None  # not serving yet, or restarting

    def _run(self) -> None:
        started, before, behind_seen = time.monotonic(), None, False
        while not self._stop.wait(EVERY_SECONDS):
            now = self._look()
            if now is None:
                continue
            fields = report(before, now, started)
            if fields is not None:
                behind_seen = True
                log.info("catching up", **fields)
            elif behind_seen:
                log.info(
                    "caught up: queries answer with everything in the log",
                    seconds=round(now.at - started),
                )
                behind_seen = False
            before = now
