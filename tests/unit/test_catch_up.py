"""Catch-up progress for ``hub up`` (``hub.catch_up``), from the worker's /health."""

from __future__ import annotations

from hub.catch_up import QUIET_BELOW, Progress, progress, report


def _health(lag: int, caught_up: bool, state: str = "running", behind: int = 0) -> dict:
    return {
        "worker": {"state": state},
        "lag": {"hub.workitems": lag, "hub.customers": 0, "hub.roadmap": 0},
        "read_model": {"caught_up": caught_up, "behind": behind, "entities": 10},
    }


def test_progress_reads_the_lag_and_the_read_model_from_health() -> None:
    """Fold lag over every source topic and whether the read model is current (caught up
    and near its changelog's end); a worker recovering its tables is not caught up, and
    says so; nothing while it is still starting."""
    seen = progress(_health(5000, False), 10.0)
    assert seen == Progress(10.0, 5000, False)
    assert progress(_health(0, False, state="starting"), 10.0) is None
    recovering = progress(_health(0, True, state="recovering"), 10.0)
    assert recovering is not None and not recovering.caught_up
    assert report(None, recovering, 4.0) == {"worker": "recovering", "for_seconds": 6}
    # read its changelog once, but far behind the states the fold is writing now
    assert not progress(_health(0, True, behind=50_000), 10.0).read_model_current


def test_a_catch_up_is_reported_with_rate_and_estimate_until_done() -> None:
    """Behind: the events left, the read model's state, and from the second look on the
    fold rate and an estimate; caught up (little lag and a current read model): nothing."""
    first = Progress(10.0, 90_000, False)
    assert report(None, first, 5.0) == {
        "events_to_fold": 90_000,
        "read_model": "loading",
        "for_seconds": 5,
    }
    second = Progress(15.0, 40_000, True)
    assert report(first, second, 5.0) == {
        "events_to_fold": 40_000,
        "read_model": "current",
        "for_seconds": 10,
        "events_per_second": 10_000,
        "eta_seconds": 4,
    }
    assert report(second, Progress(20.0, QUIET_BELOW - 1, True), 5.0) is None
    # live traffic keeps a small lag; a read model still loading is a catch-up all the same
    assert report(None, Progress(20.0, 0, False), 5.0) is not None
