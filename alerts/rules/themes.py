"""Drift rules: what customers ask for that the roadmap does not see yet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from alerts.config import EmergingTheme, UnaddressedDemand
from alerts.inputs import DriftInputs
from alerts.rules.registry import Observation, drift_rule, observe
from core.events import parse_utc

__all__ = ["emerging_theme", "unaddressed_demand"]


def _links(inputs: DriftInputs, theme: Mapping[str, Any]) -> dict[str, str]:
    return {"hub_url": f"{inputs.external_url}/api/v1/themes/{quote(theme['id'], safe='')}"}


@drift_rule("EmergingTheme", EmergingTheme)
def emerging_theme(inputs: DriftInputs, settings: EmergingTheme) -> Iterable[Observation]:
    for theme in inputs.themes:
        s = settings.for_team(None)
        if not s.enabled or theme["id"] == "unclassified":
            continue
        recent, before = theme["last_7_days"], theme["weekly_average_before"]
        rising = recent >= s.min_requests and recent >= s.factor * before
        arr_rising = bool(s.min_new_arr) and theme["new_arr_7_days"] >= s.min_new_arr
        if not (rising or arr_rising):
            continue
        yield observe(
            s,
            team="",
            theme=theme["id"],
            summary=f"Emerging theme: {theme['name']} ({recent} requests this week)",
            description=(
                f"{recent} requests in the last 7 days against {before:.1f} a week in the four "
                f"weeks before (threshold {s.factor:g}x and {s.min_requests}); accounts new to "
                f"it bring {theme['new_arr_7_days']:,.0f} ARR."
            ),
            value=float(recent),
            links=_links(inputs, theme),
        )


@drift_rule("UnaddressedDemand", UnaddressedDemand)
def unaddressed_demand(inputs: DriftInputs, settings: UnaddressedDemand) -> Iterable[Observation]:
    for theme in inputs.themes:
        s = settings.for_team(None)
        if not s.enabled or not theme["unaddressed"] or not theme["first_seen"]:
            continue
        age = (inputs.now - parse_utc(theme["first_seen"])).total_seconds() / 86400
        if theme["open_arr"] < s.min_arr or age < s.days:
            continue
        yield observe(
            s,
            team="",
            theme=theme["id"],
            summary=f"Unaddressed demand: {theme['name']} ({theme['open_arr']:,.0f} ARR waiting)",
            description=(
                f"{theme['open']} open requests from accounts worth {theme['open_arr']:,.0f} ARR "
                f"(threshold {s.min_arr:,.0f}) since {theme['first_seen'][:10]}, {age:.0f} days, "
                "and no roadmap item is linked to the theme."
            ),
            value=round(theme["open_arr"], 0),
            links=_links(inputs, theme),
        )
