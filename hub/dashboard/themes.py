"""The Themes pages: what customers ask for, ranked by the demand behind it, and one
theme with its trend, quotes and requests, where product ops names it, links it to a
roadmap item or merges it into another. Every change goes through the API's own actions,
so it is the same event on the log either way."""

from __future__ import annotations

from typing import Any

from hub.api import themes as api
from hub.api.declare import Call, Routes, choice, flag
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.dashboard.frame import AS_OF_DAY, form_fields, frame, html
from hub.dashboard.render import see_other
from hub.theme_service import SORTS

__all__ = ["ROUTES", "trend_chart"]

ROUTES = Routes("dashboard")
LIST_ROWS = 100
THEME_ID = path_param("theme_id", "Theme id.")


def trend_chart(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """Requests per ISO week over the last eight weeks."""
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 16, "top": 24, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [w["week"] for w in trend]},
        "yAxis": {"type": "value", "name": "requests", "minInterval": 1},
        "series": [{"name": "Requests", "type": "bar", "data": [w["requests"] for w in trend]}],
    }


@ROUTES.get(
    "/themes",
    "Feedback themes",
    params=(choice("sort", SORTS), flag("unaddressed"), AS_OF_DAY),
    page=True,
    media_type="text/html",
)
async def themes_page(call: Call) -> Any:
    f = frame(call)
    snap = await f.snapshot()
    sort, unaddressed = call.args["sort"] or "arr", call.args["unaddressed"]
    ranked = await api.ranked_themes(call, snap, sort, unaddressed)
    return html(
        "themes.html",
        f.context(
            "themes",
            "Themes",
            as_of_control=True,
            rows=ranked[:LIST_ROWS],
            total=len(ranked),
            sort=sort,
            sorts=SORTS,
            unaddressed=unaddressed,
        ),
    )


@ROUTES.get(
    "/themes/{theme_id}",
    "One feedback theme",
    params=(THEME_ID, AS_OF_DAY),
    page=True,
    media_type="text/html",
)
async def theme_page(call: Call) -> Any:
    f = frame(call)
    snap = await f.snapshot()
    view = await api.theme_detail(call, snap, call.args["theme_id"])
    requests = snap.entities.get("customer_request", {})
    members = [requests[k] for k in view["request_keys"] if k in requests][:LIST_ROWS]
    items = {
        key: (state["versions"][-1].get("title") if state["versions"] else None) or key
        for key, state in sorted(snap.entities.get("roadmap_item", {}).items())
        if not state.get("removed_at")
    }
    others = await api.ranked_themes(call, snap, "requests", False)
    return html(
        "theme.html",
        f.context(
            "themes",
            view["name"],
            as_of_control=True,
            theme=view,
            trend=trend_chart(view["trend"]),
            members=members,
            roadmap_items=items,
            others=[t for t in others if t["id"] not in (view["id"], "unclassified")],
        ),
    )


async def _changed(call: Call, action: Any) -> Any:
    await action
    return see_other(f"/themes/{call.args['theme_id']}")


@ROUTES.post("/themes/{theme_id}/rename", "Rename a theme", params=(THEME_ID,), page=True)
async def rename_theme(call: Call) -> Any:
    name = (await form_fields(call)).get("name", "").strip()
    if not name or len(name) > 200:
        raise ApiError(422, "invalid_theme_edit", "Give the theme a name of 1 to 200 characters.")
    return await _changed(call, api.rename(call, call.args["theme_id"], name))


@ROUTES.post(
    "/themes/{theme_id}/link", "Link a theme to a roadmap item", params=(THEME_ID,), page=True
)
async def link_theme(call: Call) -> Any:
    item = (await form_fields(call)).get("roadmap_item", "").strip()
    if not item:
        raise ApiError(422, "invalid_theme_edit", "Pick the roadmap item this theme is about.")
    return await _changed(call, api.link(call, call.args["theme_id"], item))


@ROUTES.post("/themes/{theme_id}/unlink", "Unlink a theme", params=(THEME_ID,), page=True)
async def unlink_theme(call: Call) -> Any:
    item = (await form_fields(call)).get("roadmap_item", "").strip()
    return await _changed(call, api.unlink(call, call.args["theme_id"], item))


@ROUTES.post(
    "/themes/{theme_id}/merge", "Merge a theme into another", params=(THEME_ID,), page=True
)
async def merge_theme(call: Call) -> Any:
    into = (await form_fields(call)).get("into", "").strip()
    if not into:
        raise ApiError(422, "invalid_theme_edit", "Pick the theme to merge this one into.")
    await api.merge(call, call.args["theme_id"], into)
    return see_other(f"/themes/{into}")
