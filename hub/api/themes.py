"""``/api/v1/themes``: what customers ask for, grouped into themes, with the demand behind
each and the roadmap items it may be about."""

from __future__ import annotations

import asyncio
from typing import Any

from core.events import iso
from hub.api.declare import AS_OF, CURSOR, LIMIT, Call, Routes, choice, page_body, paginate
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.schemas import ThemeDetail, ThemePage
from hub.api.snapshots import Snapshot, snapshot
from hub.theme_service import SORTS, suggestions, theme_views
from themes.model import ThemeSet

__all__ = ["ROUTES", "themes_of"]

ROUTES = Routes("themes")
THEME_ID = path_param("theme_id", "Theme id (theme-..., or unclassified).")
_ORDER = {
    "arr": lambda t: (-t["arr"], -t["requests"], t["id"]),
    "requests": lambda t: (-t["requests"], -t["arr"], t["id"]),
    "growth": lambda t: (-t["growth"], -t["requests"], t["id"]),
}


async def themes_of(call: Call, snap: Snapshot) -> ThemeSet:
    """The live themes, or those rebuilt from the requests as they stood at ``as_of``."""
    return await call.services.themes.themes(None if snap.as_of is None else snap.entities)


def _now(snap: Snapshot) -> Any:
    return snap.as_of or snap.index.now


@ROUTES.get(
    "/api/v1/themes",
    "Feedback themes, with the requests, accounts and ARR behind each",
    params=(choice("sort", SORTS, "Default: arr."), LIMIT, CURSOR, AS_OF),
    response=ThemePage,
)
async def themes(call: Call) -> Any:
    snap = await snapshot(call.services, call.args["as_of"])
    built = await themes_of(call, snap)
    views = theme_views(built, snap.entities, snap.index, _now(snap))
    ranked = sorted(views, key=_ORDER[call.args["sort"] or "arr"])
    for rank, view in enumerate(ranked):
        view["rank"] = rank + 1
        del view["request_keys"], view["quotes"], view["trend"], view["accounts"]
    page, token = paginate(
        ranked, lambda v: f"{v['rank']:06d}", call.args["cursor"], call.args["limit"]
    )
    body = page_body(page, token)
    built_at = call.services.themes.built_at
    body["built_at"] = iso(built_at) if built_at and snap.as_of is None else None
    return body


@ROUTES.get(
    "/api/v1/themes/{theme_id}",
    "One theme: its requests, accounts, weekly trend, quotes and suggested roadmap items",
    params=(THEME_ID, AS_OF),
    response=ThemeDetail,
    responses={404: "No such theme."},
)
async def theme(call: Call) -> Any:
    wanted = call.args["theme_id"]
    snap = await snapshot(call.services, call.args["as_of"])
    built = await themes_of(call, snap)
    views = theme_views(built, snap.entities, snap.index, _now(snap))
    view = next((v for v in views if v["id"] == wanted), None)
    if view is None:
        raise ApiError(404, "not_found", f"no theme {wanted!r}")
    found = next((t for t in built.themes if t.id == wanted), None)
    view["suggested_roadmap_items"] = (
        await asyncio.to_thread(
            suggestions, found, snap.entities, snap.index, call.services.themes.vector
        )
        if found
        else []
    )
    return view
