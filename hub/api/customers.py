"""``/api/v1/requests`` and ``/api/v1/customers/{id}/requests``: demand and its delivery."""

from __future__ import annotations

from typing import Any

from core.stages import REQUEST_STAGES
from hub.api.declare import AS_OF, CURSOR, LIMIT, Call, Routes, choice, page_body, paginate, text
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.schemas import RequestPage
from hub.api.snapshots import Snapshot, snapshot
from hub.api.themes import themes_of
from projections.roadmap import plan_at
from projections.rollups import request_view

__all__ = ["ROUTES"]

ROUTES = Routes("customers")


def _requests(snap: Snapshot) -> list[dict[str, Any]]:
    states = snap.entities.get("customer_request", {}).values()
    return [request_view(state, snap.entities, snap.index) for state in states]


@ROUTES.get(
    "/api/v1/customers/{account}/requests",
    "A customer's requests",
    params=(path_param("account", "Customer account id."), LIMIT, CURSOR, AS_OF),
    response=RequestPage,
)
async def customer_requests(call: Call) -> Any:
    account = call.args["account"]
    snap = await snapshot(call.services, call.args["as_of"])
    if snap.get("customer_account", account) is None:
        raise ApiError(404, "not_found", f"no customer account {account!r}")
    views = [v for v in _requests(snap) if v["account"] == account]
    page, token = paginate(views, lambda v: v["key"], call.args["cursor"], call.args["limit"])
    return page_body(page, token)


@ROUTES.get(
    "/api/v1/requests",
    "Customer requests",
    params=(
        text("status"),
        choice("stage", REQUEST_STAGES),
        text("roadmap_item"),
        text("team"),
        text("theme", "Theme id: the requests of one feedback theme."),
        LIMIT,
        CURSOR,
        AS_OF,
    ),
    response=RequestPage,
)
async def requests(call: Call) -> Any:
    args = call.args
    status, roadmap_item, stage, team = (
        args["status"],
        args["roadmap_item"],
        args["stage"],
        args["team"],
    )
    snap = await snapshot(call.services, args["as_of"])
    views = _requests(snap)
    if roadmap_item is not None:
        state = snap.get("roadmap_item", roadmap_item)
        members = snap.index.members(roadmap_item, plan_at(state) if state else None)
        views = [
            v
            for v in views
            if roadmap_item in v["roadmap_items"] or members.intersection(v["work_items"])
        ]
    if status is not None:
        views = [v for v in views if v["status"] == status]
    if stage is not None:
        views = [v for v in views if v["stage"] == stage]
    if team is not None:
        views = [v for v in views if v["team"] == team]
    if args["theme"] is not None:
        built = await themes_of(call, snap)
        views = [v for v in views if built.theme_of(v["key"]) == args["theme"]]
    page, token = paginate(views, lambda v: v["key"], args["cursor"], args["limit"])
    return page_body(page, token)
