"""Backfill progress: the count a connector keeps in its status, and the console's view."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog

from connectors.progress import Backfill, Throttle, view
from core.logging import configure_logging
from hub.backfill_display import BackfillDisplay, bar_line

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    logging.getLogger().handlers.clear()
    structlog.reset_defaults()


def _days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_a_backfill_counts_events_and_the_span_of_change_times_it_met() -> None:
    """Pages add their events and time; the oldest and newest change times bound what was
    covered, whatever order a page's events come in."""
    fill = Backfill.begin(NOW)
    fill.add([_days_ago(100), _days_ago(90), _days_ago(95)], 1.5)
    fill.add([_days_ago(50)], 0.5)
    record = fill.record()
    assert (record["events"], record["pages"], record["seconds"]) == (4, 2, 2.0)
    assert record["oldest"].startswith("2026-08-23") and record["newest"].startswith("2026-10-12")
    assert record["done"] is False


def test_the_share_covered_is_the_time_from_the_oldest_change_to_now() -> None:
    """100 days of history, 50 covered: half way, with the time left at the rate so far;
    never 100% before the sync ends, exactly 100% when it has."""
    fill = Backfill.begin(NOW)
    fill.add([_days_ago(100), _days_ago(50)], 10.0)
    half = view("jira", fill.record(), NOW)
    assert half.fraction == pytest.approx(0.5)
    assert half.eta_seconds == pytest.approx(10.0)
    assert half.events_per_second == pytest.approx(0.2)
    fill.add([NOW], 1.0)
    assert view("jira", fill.record(), NOW).fraction == 0.99
    fill.finish()
    finished = view("jira", fill.record(), NOW)
    assert finished.fraction == 1.0 and finished.eta_seconds is None and finished.done


def test_a_backfill_left_unfinished_resumes_with_its_counts() -> None:
    """A runtime restarted mid-backfill goes on from the counts in the last status."""
    fill = Backfill.begin(NOW)
    fill.add([_days_ago(30), _days_ago(20)], 3.0)
    again = Backfill.resume(json.loads(json.dumps(fill.record())))
    again.add([_days_ago(10)], 1.0)
    assert (again.events, again.pages, again.seconds) == (3, 2, 4.0)
    assert again.started_at == fill.started_at and again.oldest == fill.oldest


def test_status_reports_are_throttled() -> None:
    """A running backfill is written at most once every two seconds."""
    throttle = Throttle(2.0)
    assert [throttle.due(t) for t in (0.0, 0.5, 1.9, 2.0, 3.0, 4.1)] == [
        True, False, False, True, False, True,
    ]  # fmt: skip


def _statuses(*running: tuple[str, Backfill]) -> dict[str, dict[str, Any]]:
    return {name: {"state": "RUNNING", "backfill": fill.record()} for name, fill in running}


def test_a_terminal_shows_one_bar_per_backfill_redrawn_in_place_with_logs_above() -> None:
    """Each running backfill is a bar line; a redraw erases the lines it drew; a log line
    is written above the bars, which are drawn again below it; a finished backfill leaves
    a "backfill done" line and its bar goes."""
    jira, zendesk = Backfill.begin(NOW), Backfill.begin(NOW)
    jira.add([_days_ago(100), _days_ago(25)], 3.0)
    zendesk.add([_days_ago(10)], 1.0)
    statuses = _statuses(("jira", jira), ("zendesk", zendesk))
    screen = io.StringIO()
    configure_logging("console", "info")
    logging.getLogger().handlers[0].setStream(screen)  # type: ignore[attr-defined]
    display = BackfillDisplay(lambda: statuses, live=True, stream=screen, clock=lambda: NOW)
    display.start()
    try:
        display.tick()
        first = screen.getvalue()
        assert re.search(r"jira +▕█{18} +▏  75%  2 events  through 2026-11-06", first)
        assert "zendesk" in first and first.count("\n") == 2
        structlog.get_logger("test").info("a line from the same process")
        after_log = screen.getvalue()[len(first) :]
        assert after_log.startswith("\x1b[2F\x1b[J")  # the bars erased first
        assert "a line from the same process" in after_log
        assert after_log.rstrip("\n").endswith(first.splitlines()[-1])  # and drawn again
        jira.finish()
        statuses.update(_statuses(("jira", jira)))
        display.tick()
        last = screen.getvalue()
    finally:
        display.stop()
    assert "backfill done" in last and "connector=jira" in last
    redrawn = last[last.rindex("\x1b[J") :]
    assert "zendesk" in redrawn and "▕" in redrawn and "jira  " not in redrawn
    assert screen.getvalue().endswith("\x1b[J")  # stopping leaves no bars behind


def test_bar_lines_fit_the_terminal() -> None:
    """A line is cut to the terminal's width."""
    fill = Backfill.begin(NOW)
    fill.add([_days_ago(10), _days_ago(5)], 1.0)
    assert len(bar_line(view("jira", fill.record(), NOW), 4, 40)) == 40


def test_elsewhere_backfills_are_structured_events(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a terminal (here JSON logs) each look logs a "backfilling" event per running
    backfill, then one "backfill done", also for one begun and finished between two looks;
    backfills finished before the display started are not announced."""
    configure_logging("json", "info")
    old, jira, quick = Backfill.begin(_days_ago(1)), Backfill.begin(NOW), Backfill.begin(NOW)
    old.finish()
    quick.add([_days_ago(3)], 0.2)
    quick.finish()
    jira.add([_days_ago(100), _days_ago(50)], 4.0)
    statuses = _statuses(("old", old), ("jira", jira), ("quick", quick))
    display = BackfillDisplay(lambda: statuses, live=False, clock=lambda: NOW)
    display.tick()
    jira.finish()
    statuses.update(_statuses(("jira", jira)))
    display.tick()
    display.tick()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["event"], e["connector"]) for e in lines] == [
        ("backfill done", "quick"),  # begun and done between two looks
        ("backfilling", "jira"),
        ("backfill done", "jira"),
    ]
    assert lines[1]["percent"] == 50.0 and lines[1]["events"] == 2
    assert lines[1]["eta_seconds"] == 4 and lines[1]["through"].startswith("2026-10-12")
    assert lines[2]["events"] == 2 and lines[2]["seconds"] == 4.0
