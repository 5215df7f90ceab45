"""The console's view of running backfills: one line per connector.

On a terminal each backfilling connector gets a progress bar, redrawn in place at the
bottom, with the events so far, how far through the source's history it is, the rate and
the time left; log lines of this process are written above it, never through it. Anywhere
else (a file, a pipe, ``HUB_LOG_FORMAT=json``) the same facts are structured log events
every few seconds, which log collectors can chart. Either way a finished backfill leaves one
"backfill done" line.

The display runs in the process that owns the console: ``hub up``'s supervisor (its
connector runtime is a child that draws nothing, and while the bars are live every
child's output is relayed above them, ``hub.console_relay``) or a standalone
``hub connect``. It only reads connector statuses (``connectors.progress``), so it shows the
same numbers as ``GET /api/v1/connectors/{name}/status``.
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog

from connectors.progress import BackfillView, view
from core.events import parse_utc
from core.logging import set_overlay

__all__ = ["BackfillDisplay", "bar_line"]

log = structlog.get_logger(__name__)

Statuses = Callable[[], Mapping[str, Mapping[str, Any]]]
LIVE_EVERY_SECONDS = 0.5
EVENTS_EVERY_SECONDS = 5.0
BAR_WIDTH = 24
_BLOCKS = " ▏▎▍▌▋▊▉█"


def _bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A bar in eighths of a character, so slow progress still shows."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_BLOCKS[part] if part else "")
    return text.ljust(width)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def bar_line(shown: BackfillView, name_width: int, columns: int) -> str:
    """One connector's terminal line, cut to the terminal's width."""
    through = shown.through.strftime("%Y-%m-%d") if shown.through else "—"
    eta = f"  {_duration(shown.eta_seconds)} left" if shown.eta_seconds is not None else ""
    text = (
        f"{shown.connector:<{name_width}} ▕{_bar(shown.fraction)}▏ {shown.fraction:>4.0%}"
        f"  {shown.events:,} events  through {through}  {shown.events_per_second:,.0f}/s{eta}"
    )
    return text[:columns]


def _fields(shown: BackfillView) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "connector": shown.connector,
        "events": shown.events,
        "pages": shown.pages,
        "percent": round(shown.fraction * 100, 1),
        "through": shown.through.isoformat() if shown.through else None,
        "events_per_second": round(shown.events_per_second),
    }
    if shown.eta_seconds is not None:
        fields["eta_seconds"] = round(shown.eta_seconds)
    return fields


class BackfillDisplay:
    """Watches connector statuses in a thread and shows the backfills among them."""

    def __init__(
        self,
        statuses: Statuses,
        *,
        live: bool,
        stream: TextIO | None = None,
        every: float | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.statuses = statuses
        self.live = live
        self.stream = stream if stream is not None else sys.stderr
        self.every = (
            every if every is not None else (LIVE_EVERY_SECONDS if live else EVENTS_EVERY_SECONDS)
        )
        self.clock = clock
        self._lock = threading.RLock()
        self._drawn: list[str] = []  # the lines on screen now
        self._wanted: list[str] = []  # the lines to show (drawn unless a log line holds them)
        self._held = False
        self._since = clock()
        self._watching: set[tuple[str, str]] = set()  # (connector, started_at) seen running
        self._announced: set[tuple[str, str]] = set()  # seen done
        self._stop = threading.Event()
        self._on_stop: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._run, name="backfill-display", daemon=True)

    @staticmethod
    def live_on(log_format: str) -> bool:
        """Whether this process's console gets bars: a terminal, with the console format."""
        return log_format == "console" and sys.stderr.isatty()

    @classmethod
    def for_console(cls, statuses: Statuses, log_format: str) -> BackfillDisplay:
        """Bars on a terminal with the console format; structured events otherwise."""
        return cls(statuses, live=cls.live_on(log_format))

    def start(self) -> BackfillDisplay:
        if self.live:
            set_overlay(self)
        self._thread.start()
        return self

    def on_stop(self, action: Callable[[], None]) -> None:
        """Also do ``action`` at ``stop`` (end what feeds the display)."""
        self._on_stop.append(action)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for action in self._on_stop:
            action()
        if self.live:
            set_overlay(None)
            with self._lock:
                self._erase()

    # the overlay protocol (core.logging): log lines go above the bars
    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            self._erase()
            self._held = True
            try:
                yield
            finally:
                self._held = False
                self._draw(self._wanted)

    def _erase(self) -> None:
        if self._drawn:
            # to the first drawn line's start, then clear to the end of the screen
            self.stream.write(f"\x1b[{len(self._drawn)}F\x1b[J")
            self.stream.flush()
            self._drawn = []

    def _draw(self, lines: list[str]) -> None:
        self._wanted = lines
        if self._held:
            return
        self._erase()
        if lines:
            self.stream.write("".join(line + "\n" for line in lines))
            self.stream.flush()
        self._drawn = list(lines)

    def tick(self) -> None:
        """One look at the statuses: draw or log the running backfills, and a line for
        each one that finished since the last look."""
        now = self.clock()
        running: list[BackfillView] = []
        for name, status in sorted(dict(self.statuses()).items()):  # a copy: it changes
            record = status.get("backfill")
            if not record:
                continue
            key = (name, str(record.get("started_at")))
            shown = view(name, record, now)
            if not shown.done:
                self._watching.add(key)
                running.append(shown)
            elif key not in self._announced and (key in self._watching or self._fresh(record)):
                self._announced.add(key)  # finished since the last look, or since we started
                self._watching.discard(key)
                if shown.events:  # an empty source has nothing to announce
                    log.info(
                        "backfill done",
                        connector=name,
                        events=shown.events,
                        pages=shown.pages,
                        seconds=round(shown.seconds, 1),
                    )
        if self.live:
            width = max((len(v.connector) for v in running), default=0)
            columns = shutil.get_terminal_size((100, 24)).columns
            with self._lock:
                self._draw([bar_line(v, width, columns) for v in running])
        else:
            for shown in running:
                log.info("backfilling", **_fields(shown))

    def _fresh(self, record: Mapping[str, Any]) -> bool:
        """Started while this display watched (a backfill quicker than one look)."""
        started = record.get("started_at")
        return bool(started) and parse_utc(str(started)) >= self._since

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.tick()
            except Exception as exc:  # a display must never take its process down
                log.warning("backfill display failed", error=f"{type(exc).__name__}: {exc}")
