"""``/api/v1/workitems``: each work item's lifecycle, one or many."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.events import utcnow
from core.stages import WORK_ITEM_STAGES
from hub.api.declare import (
    AS_OF,
    CURSOR,
    LIMIT,
    Call,
    Routes,
    choice,
    page_body,
    paginate,
    text,
    time,
)
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.schemas import WorkItem, WorkItemPage
from hub.api.snapshots import snapshot
from projections.roadmap import plan_at

__all__ = ["ROUTES"]

ROUTES = Routes("workitems")


def summary(view: dict[str, Any]) -> dict[str, Any]:
    """A list row: the view without its timeline."""
    return {k: v for k, v in view.items() if k != "timeline"}


@ROUTES.get(
    "/api/v1/workitems/{key}",
    "One work item with its timeline",
    params=(path_param("key", "Work item key, e.g. PROJ-42."), AS_OF),
    response=WorkItem,
)
async def work_item(call: Call) -> Any:
    key, as_of = call.args["key"], call.args["as_of"]
    if as_of is None:  # a live key lookup needs this one view, not the whole index
        view = call.services.read_model.work_item_view(key)
        moment = utcnow()
    else:
        snap = await snapshot(call.services, as_of)
        view, moment = snap.index.views.get(key), as_of
    if view is None:
        raise ApiError(404, "not_found", f"no work item {key!r}")
    return {**view, "as_of": moment.isoformat()}


@ROUTES.get(
    "/api/v1/workitems",
    "Work items, filtered",
    params=(
        text("team"),
        choice("stage", WORK_ITEM_STAGES),
        text("roadmap_item", "Members, including descendants."),
        time("updated_since"),
        LIMIT,
        CURSOR,
        AS_OF,
    ),
    response=WorkItemPage,
)
async def work_items(call: Call) -> Any:
    args = call.args
    team, roadmap_item, stage, since = (
        args["team"],
        args["roadmap_item"],
        args["stage"],
        args["updated_since"],
    )
    snap = await snapshot(call.services, args["as_of"])
    # Filter on the clock-independent fields of every item, already in key order; only
    # the page's views are finished as of now.
    rows: list[Mapping[str, Any]] = (
        snap.index.in_key_order() if team is None else snap.index.team_in_key_order(team)
    )
    if roadmap_item is not None:
        state = snap.get("roadmap_item", roadmap_item)
        members = snap.index.members(roadmap_item, plan_at(state) if state else None)
        rows = [v for v in rows if v["key"] in members]
    if stage is not None:
        rows = [v for v in rows if v["stage"] == stage]
    if since is not None:
        cutoff = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        rows = [v for v in rows if (v["updated_at"] or "") >= cutoff]
    found, token = paginate(rows, lambda v: v["key"], args["cursor"], args["limit"], presorted=True)
    page = [snap.index.views[v["key"]] for v in found]
    return page_body([summary(v) for v in page], token)
