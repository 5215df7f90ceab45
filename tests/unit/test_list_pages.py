"""List pages read only what they return: a team's items grouped once, pages bisected,
the index built before the first query."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub import read_model
from hub.api.declare import paginate
from projections.entities import fold_entity
from projections.rollups import WorkIndex
from tests.builders import build, item

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _count_index_builds(monkeypatch: pytest.MonkeyPatch) -> list[WorkIndex]:
    """Every index the read model builds from now on, in order."""
    built: list[WorkIndex] = []

    class CountedIndex(WorkIndex):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(read_model, "WorkIndex", CountedIndex)
    return built


def test_a_teams_items_are_the_key_ordered_items_of_that_team() -> None:
    """team_in_key_order gives exactly the team's items of in_key_order, in that order;
    an unknown team has none."""
    rng = random.Random(4)
    events = [
        item(f"K-{n}", T0 + timedelta(hours=n), team=rng.choice(["core", "edge", "web"]))
        for n in rng.sample(range(500), 120)
    ]
    index = WorkIndex(build(events), T0 + timedelta(days=30))
    everything = index.in_key_order()
    for team in ("core", "edge", "web"):
        assert index.team_in_key_order(team) == [v for v in everything if v["team"] == team]
    assert index.team_in_key_order("nobody") == []


def test_a_presorted_page_is_the_page_a_sort_and_scan_would_give() -> None:
    """For every cursor (none, each key, past the end) and limit, bisecting a list already in
    key order gives the same page and next-page token as sorting and scanning it."""
    keys = sorted(f"K-{n:04}" for n in random.Random(7).sample(range(10_000), 60))
    rows = [{"key": k} for k in keys]
    for after in [None, "A", *keys[::7], keys[-1], "Z"]:
        for limit in (1, 5, 60, 100):
            assert paginate(rows, lambda r: r["key"], after, limit, presorted=True) == (
                paginate(rows, lambda r: r["key"], after, limit)
            ), (after, limit)


def test_the_index_is_built_once_the_model_has_caught_up_before_any_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The warm-up timer builds the index, sorted and grouped by team, as soon as the read
    model has caught up, so the first list query after a start reads it instead of
    building it; before catch-up and with nobody querying, nothing is built."""
    built = _count_index_builds(monkeypatch)
    model = read_model.ReadModel("changelog")
    model.apply("changelog", "work_item/A-1", fold_entity(None, item("A-1", T0)))
    model.keep_warm()
    assert built == []  # still reading the changelog
    model.mark_caught_up()
    model.keep_warm()
    assert len(built) == 1
    assert model.index() is built[0] and len(built) == 1
    # Sorted and grouped by team with it: the first list page sorts nothing.
    assert built[0]._sorted is not None and built[0]._by_team is not None
    model.keep_warm()
    assert len(built) == 1  # nothing changed: nothing rebuilt


def test_changed_items_views_are_prepared_ahead_of_the_next_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While items change and nobody queries, the warm-up computes the changed items'
    views (each once); the next index build computes none, and a deleted item is gone."""
    model = read_model.ReadModel("changelog")  # still reading its changelog: no index yet
    computed: list[str] = []
    real = read_model.view_base

    def counted(state: dict[str, Any]) -> Any:
        computed.append(state["key"])
        return real(state)

    monkeypatch.setattr(read_model, "view_base", counted)
    for n in range(5):
        model.apply("changelog", f"work_item/A-{n}", fold_entity(None, item(f"A-{n}", T0)))
    model.keep_warm()
    assert sorted(computed) == [f"A-{n}" for n in range(5)]
    model.apply("changelog", "work_item/A-1", fold_entity(None, item("A-1", T0, team="edge")))
    model.apply("changelog", "work_item/A-4", None)
    model.keep_warm()
    assert computed[5:] == ["A-1"]
    index = model.index()
    assert len(computed) == 6  # the build computed nothing itself
    assert sorted(index.bases) == ["A-0", "A-1", "A-2", "A-3"]
    assert index.stable["A-1"]["team"] == "edge"


def test_the_index_is_rebuilt_once_a_burst_of_changes_has_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nobody querying, the warm-up leaves the index alone while changes stream in,
    and rebuilds it once they have stopped for ``QUIET_FOR``: the first list query after a
    backfill finds it ready. Without changes nothing is rebuilt."""
    built = _count_index_builds(monkeypatch)
    clock = [1000.0]
    model = read_model.ReadModel("changelog", ticks=lambda: clock[0])
    model.apply("changelog", "work_item/A-0", fold_entity(None, item("A-0", T0)))
    model.mark_caught_up()
    model.keep_warm()
    assert len(built) == 1  # the first index, at catch-up
    for n in range(1, 6):  # a change a second: the burst goes on, nobody queries
        clock[0] += 1.0
        model.apply("changelog", f"work_item/A-{n}", fold_entity(None, item(f"A-{n}", T0)))
        model.keep_warm()
    assert len(built) == 1
    clock[0] += read_model.QUIET_FOR
    model.keep_warm()
    assert len(built) == 2 and sorted(built[1].bases) == [f"A-{n}" for n in range(6)]
    assert built[1]._by_team is not None  # sorted and grouped too
    clock[0] += 60.0
    model.keep_warm()
    assert len(built) == 2 and model.index() is built[1]


def test_the_forked_rules_read_the_current_index_as_of_their_own_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``as_forked`` reuses the index the queries read while it is current, its views
    finished as of the model's clock now, not as of the build: an item in progress since
    the build has aged meanwhile. Once the model changes it builds a fresh index over the
    new state instead of reading a stale one."""
    built = _count_index_builds(monkeypatch)
    clock = [T0 + timedelta(days=1)]
    model = read_model.ReadModel("changelog", clock=lambda: clock[0])
    started = fold_entity(
        None, item("A-1", T0, status="In Progress", status_category="in_progress")
    )
    model.apply("changelog", "work_item/A-1", started)
    model.mark_caught_up()
    model.keep_warm()
    assert len(built) == 1
    clock[0] += timedelta(days=2)
    entities, index = model.as_forked()
    assert len(built) == 1 and index is not built[0]  # shared, not rebuilt
    assert index.now == clock[0] and built[0].now == T0 + timedelta(days=1)
    assert index.stable is built[0].stable and index.children is built[0].children
    fresh = WorkIndex(entities, clock[0])
    assert index.views["A-1"] == fresh.views["A-1"]
    assert built[0].views["A-1"] != fresh.views["A-1"]  # the build's own moment is older
    model.apply("changelog", "work_item/A-2", fold_entity(None, item("A-2", T0)))
    _, after = model.as_forked()
    assert len(built) == 2 and sorted(after.bases) == ["A-1", "A-2"]
