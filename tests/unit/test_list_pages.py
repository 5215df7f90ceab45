"""List pages read only what they return: a team's items grouped once, pages bisected."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hub.api.declare import paginate
from projections.rollups import WorkIndex
from tests.builders import build, item

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


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
