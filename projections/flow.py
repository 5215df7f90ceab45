"""Flow metrics: cycle-time percentiles, weekly throughput, aging WIP, request lead time.

Percentiles use the nearest-rank method ("85% of items finished in N days or less"), the
reading Kanban teams use for service-level expectations, so P85 is always a cycle time
some item really had. Only leaves count: an epic's cycle time is the span of its
children and would double their time (the resource projection and WIP counts agree).
Cycle time counts in-progress time only (``projections.work_items``); days are 86,400 s.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from core.events import iso, parse_utc
from core.stages import ACTIVE_WORK_STAGES
from projections.resources import weeks_between
from projections.rollups import WorkIndex
from projections.timeline import iso_week
from projections.work_items import cycle_time_at

__all__ = [
    "PERCENTILES",
    "DAY",
    "Period",
    "percentile",
    "distribution",
    "finished_leaves",
    "cycle_time_report",
    "weekly_throughput",
    "team_percentiles",
    "aging_wip",
    "request_lead_times",
]

PERCENTILES = (50, 70, 85, 95)
DAY = 86_400.0
DEFAULT_HISTORY_WEEKS = 12  # what "the team's historical cycle time" looks back over
Period = Literal["week", "month"]


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least ``p`` percent of values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def distribution(seconds: Sequence[float]) -> dict[str, Any]:
    """Count and P50/P70/P85/P95 of durations, in days rounded to 0.01."""
    row: dict[str, Any] = {"count": len(seconds)}
    for p in PERCENTILES:
        value = percentile(seconds, p)
        row[f"p{p}_days"] = round(value / DAY, 2) if value is not None else None
    return row


def _is_leaf(index: WorkIndex, key: str) -> bool:
    return not index.children.get(key)


def finished_leaf_keys(
    index: WorkIndex,
    start: datetime,
    end: datetime,
    *,
    team: str | None = None,
    item_type: str | None = None,
) -> list[str]:
    """Leaf items done in [start, end) (and still done), optionally one team/type."""
    low, high = iso(start), iso(end)
    found = []
    for key, stable in index.stable.items():
        done = stable["done_at"]
        if not done or not low <= done < high or stable["deleted_at"]:
            continue
        if (team and stable["team"] != team) or (item_type and stable["type"] != item_type):
            continue
        if _is_leaf(index, key):
            found.append(key)
    return found


def finished_leaves(
    index: WorkIndex,
    start: datetime,
    end: datetime,
    *,
    team: str | None = None,
    item_type: str | None = None,
) -> list[dict[str, Any]]:
    """Views of leaf items done in [start, end) (and still done), optionally one team/type."""
    keys = finished_leaf_keys(index, start, end, team=team, item_type=item_type)
    return [index.views[key] for key in keys]


def _period_of(moment: str, period: Period) -> str:
    at = parse_utc(moment)
    return iso_week(at) if period == "week" else f"{at.year:04d}-{at.month:02d}"


def cycle_time_report(
    index: WorkIndex,
    start: datetime,
    end: datetime,
    *,
    team: str | None = None,
    item_type: str | None = None,
    period: Period = "month",
) -> dict[str, Any]:
    """Cycle-time distribution of items finished in [start, end): overall, per team, per
    work type and per period (ISO week or calendar month of finishing)."""
    done = [
        v
        for v in finished_leaves(index, start, end, team=team, item_type=item_type)
        if v["cycle_time_seconds"] is not None
    ]
    by_team: dict[str, list[float]] = defaultdict(list)
    by_type: dict[str, list[float]] = defaultdict(list)
    by_period: dict[str, list[float]] = defaultdict(list)
    for view in done:
        seconds = float(view["cycle_time_seconds"])
        by_team[view["team"] or "unassigned"].append(seconds)
        by_type[view["type"] or "unknown"].append(seconds)
        by_period[_period_of(view["done_at"], period)].append(seconds)
    return {
        "from": iso(start),
        "to": iso(end),
        "period": period,
        "overall": distribution([float(v["cycle_time_seconds"]) for v in done]),
        "by_team": {k: distribution(v) for k, v in sorted(by_team.items())},
        "by_type": {k: distribution(v) for k, v in sorted(by_type.items())},
        "by_period": [{"period": k, **distribution(v)} for k, v in sorted(by_period.items())],
    }


def weekly_throughput(
    index: WorkIndex, start: datetime, end: datetime, *, team: str | None = None
) -> list[dict[str, Any]]:
    """Leaf items finished per ISO week in [start, end), every week listed (zeros too)."""
    counts: dict[str, int] = defaultdict(int)
    for view in finished_leaves(index, start, end, team=team):
        counts[iso_week(parse_utc(view["done_at"]))] += 1
    return [{"week": w, "throughput": counts.get(w, 0)} for w in weeks_between(start, end)]


def team_percentiles(
    index: WorkIndex, now: datetime, history_weeks: int = DEFAULT_HISTORY_WEEKS
) -> dict[str, dict[str, Any]]:
    """Each team's cycle-time distribution over the items it finished in the last weeks:
    the yardstick an in-progress item's age is read against."""
    start = now - timedelta(weeks=history_weeks)
    by_team: dict[str, list[float]] = defaultdict(list)
    # Each item's cycle time straight from its base: at 1,000 engineers that is tens of
    # thousands of items, and building each one's whole view only to read one number
    # was most of this.
    for key in finished_leaf_keys(index, start, now):
        team = index.stable[key]["team"]
        cycle = cycle_time_at(index.bases[key], index.now)
        if team and cycle is not None:
            by_team[team].append(float(cycle))
    return {team: distribution(values) for team, values in sorted(by_team.items())}


def _band(age_days: float, yardstick: Mapping[str, Any]) -> str:
    """Where an age falls among the team's percentiles: the Kanban aging chart's colours."""
    band = "below p50"
    for p in PERCENTILES:
        limit = yardstick.get(f"p{p}_days")
        if limit is not None and age_days > limit:
            band = f"above p{p}"
    return band


def aging_wip(
    index: WorkIndex,
    now: datetime,
    *,
    team: str | None = None,
    history_weeks: int = DEFAULT_HISTORY_WEEKS,
    percentiles: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every leaf item in progress (or blocked), oldest first: its age since it started
    against its team's historical cycle-time percentiles."""
    yardsticks = (
        percentiles if percentiles is not None else team_percentiles(index, now, history_weeks)
    )
    rows = []
    for key, stable in index.stable.items():
        if stable["stage"] not in ACTIVE_WORK_STAGES or not stable["started_at"]:
            continue
        if (team and stable["team"] != team) or not _is_leaf(index, key):
            continue
        age = max(0.0, (now - parse_utc(stable["started_at"])).total_seconds()) / DAY
        yardstick = yardsticks.get(stable["team"] or "", {})
        p85 = yardstick.get("p85_days")
        rows.append(
            {
                "key": key,
                "title": stable["title"],
                "team": stable["team"],
                "type": stable["type"],
                "stage": stable["stage"],
                "status": stable["status"],
                "started_at": stable["started_at"],
                "age_days": round(age, 2),
                "team_p50_days": yardstick.get("p50_days"),
                "team_p85_days": p85,
                "band": _band(age, yardstick) if yardstick.get("count") else "no history",
                "over_p85": bool(p85 is not None and age > p85),
                "url": stable["url"],
            }
        )
    rows.sort(key=lambda r: (-r["age_days"], r["key"]))
    return rows


def request_lead_times(
    requests: Iterable[Mapping[str, Any]],
    start: datetime,
    end: datetime,
    *,
    team: str | None = None,
) -> dict[str, Any]:
    """Customer requests delivered in [start, end): opened -> delivered, overall and by
    team. ``requests`` are request views (``projections.rollups.request_view``)."""
    low, high = iso(start), iso(end)
    overall: list[float] = []
    by_team: dict[str, list[float]] = defaultdict(list)
    for view in requests:
        delivered = view.get("delivered_at")
        if not delivered or not low <= delivered < high or not view.get("opened_at"):
            continue
        if team and view.get("team") != team:
            continue
        seconds = float(view["time_to_delivery_seconds"] or 0.0)
        overall.append(seconds)
        by_team[view.get("team") or "unassigned"].append(seconds)
    return {
        "from": low,
        "to": high,
        "overall": distribution(overall),
        "by_team": {k: distribution(v) for k, v in sorted(by_team.items())},
    }
