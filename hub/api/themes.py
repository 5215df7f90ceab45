"""``/api/v1/themes``: what customers ask for, grouped into themes, with the demand behind
each and the roadmap items it may be about."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ValidationError

from core.events import EntityRef, Source, ThemeEdit, ThemeEdited, iso, make_event_id, utcnow
from core.validation import problems_from
from hub.api.declare import (
    AS_OF,
    CURSOR,
    LIMIT,
    Call,
    Reply,
    Routes,
    choice,
    flag,
    page_body,
    paginate,
)
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.schemas import (
    ThemeDetail,
    ThemeEditDone,
    ThemeMerge,
    ThemePage,
    ThemeRename,
    ThemeSplit,
)
from hub.api.snapshots import Snapshot, snapshot
from hub.theme_service import SORTS, suggestions, theme_views, themed_requests
from themes.model import Theme, ThemeSet, theme_id

__all__ = [
    "ROUTES",
    "link",
    "merge",
    "ranked_themes",
    "rename",
    "theme_detail",
    "themed_demand",
    "themes_of",
    "unlink",
]

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


async def ranked_themes(
    call: Call, snap: Snapshot, sort: str | None, unaddressed: bool
) -> list[dict[str, Any]]:
    """Theme views in ``sort`` order (default ARR), each with its rank."""
    built = await themes_of(call, snap)
    views = theme_views(built, snap.entities, snap.index, _now(snap))
    if unaddressed:
        views = [v for v in views if v["unaddressed"]]
    ranked = sorted(views, key=_ORDER[sort or "arr"])
    for rank, view in enumerate(ranked):
        view["rank"] = rank + 1
    return ranked


@ROUTES.get(
    "/api/v1/themes",
    "Feedback themes, with the requests, accounts and ARR behind each",
    params=(
        choice("sort", SORTS, "Default: arr."),
        flag("unaddressed", "Only themes with customers behind them and no roadmap link."),
        LIMIT,
        CURSOR,
        AS_OF,
    ),
    response=ThemePage,
)
async def themes(call: Call) -> Any:
    snap = await snapshot(call.services, call.args["as_of"])
    ranked = await ranked_themes(call, snap, call.args["sort"], call.args["unaddressed"])
    for view in ranked:
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
    snap = await snapshot(call.services, call.args["as_of"])
    return await theme_detail(call, snap, call.args["theme_id"])


async def theme_detail(call: Call, snap: Snapshot, wanted: str) -> dict[str, Any]:
    """One theme's view with its suggested roadmap items; 404 when there is none."""
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


# --- what people decide: events on the log, so every rebuild and replay keeps them -------

SOURCE = Source(system="themes", connector="api")
ROADMAP_ITEM = path_param("item_id", "Roadmap item id.")


async def _existing(call: Call, wanted: str) -> tuple[ThemeSet, Theme]:
    snap = await snapshot(call.services, None)
    built = await themes_of(call, snap)
    found = built.theme(wanted)
    if found is None:
        raise ApiError(404, "not_found", f"no theme {wanted!r}")
    return built, found


def _body(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        fields = [p.as_dict() for p in problems_from(exc)]
        raise ApiError(422, "invalid_theme_edit", "the change is not valid", fields) from None


async def _record(call: Call, theme: str, edit: ThemeEdit, status: int = 200) -> Any:
    """Publish one decision. Its id covers the theme's edits so far and the change, so a
    retried request is one event while doing the same again later is a new one."""
    state = call.services.read_model.get("theme", theme)
    done = len(state["edits"]) if state else 0
    change = f"{done}:{edit.model_dump_json()}"
    event = ThemeEdited(
        event_id=make_event_id(SOURCE.connector, "theme", theme, change, "theme.edited"),
        source=SOURCE,
        entity=EntityRef(kind="theme", key=theme),
        occurred_at=utcnow(),
        payload=edit,
    )
    await call.services.publisher.publish_events([event])
    body = {"theme": theme, "action": edit.action, "event_id": event.event_id}
    return Reply(body, status=status)


@ROUTES.put(
    "/api/v1/themes/{theme_id}",
    "Rename a theme",
    params=(THEME_ID,),
    body=ThemeRename,
    response=ThemeEditDone,
    responses={404: "No such theme.", 422: "The name is not valid."},
)
async def rename_theme(call: Call) -> Any:
    wanted = _body(ThemeRename, await call.json())
    return await rename(call, call.args["theme_id"], wanted.name)


async def rename(call: Call, theme: str, name: str) -> Reply:
    """Name a theme (the dashboard's form does this too)."""
    _, found = await _existing(call, theme)
    return await _record(call, found.id, ThemeEdit(action="rename", name=name))


@ROUTES.post(
    "/api/v1/themes/{theme_id}/merge",
    "Merge a theme into another: its requests join the one kept",
    params=(THEME_ID,),
    body=ThemeMerge,
    response=ThemeEditDone,
    responses={404: "No such theme.", 422: "The target is not another existing theme."},
)
async def merge_theme(call: Call) -> Any:
    wanted = _body(ThemeMerge, await call.json())
    return await merge(call, call.args["theme_id"], wanted.into)


async def merge(call: Call, theme: str, into: str) -> Reply:
    """Merge ``theme`` into ``into``, another existing theme."""
    built, found = await _existing(call, theme)
    if into == found.id or built.theme(into) is None:
        raise ApiError(422, "invalid_theme_edit", f"{into!r} is not another theme")
    return await _record(call, found.id, ThemeEdit(action="merge", into=into))


@ROUTES.post(
    "/api/v1/themes/{theme_id}/split",
    "Split requests off a theme into a new one",
    params=(THEME_ID,),
    body=ThemeSplit,
    response=ThemeEditDone,
    status=201,
    responses={404: "No such theme.", 422: "Requests that are not all in it, or all of it."},
)
async def split_theme(call: Call) -> Any:
    wanted = _body(ThemeSplit, await call.json())
    _, found = await _existing(call, call.args["theme_id"])
    leaving = sorted(set(wanted.requests))
    strangers = [k for k in leaving if k not in found.members]
    if strangers or len(leaving) == len(found.members):
        why = f"not in the theme: {', '.join(strangers)}" if strangers else "that is all of it"
        raise ApiError(422, "invalid_theme_edit", f"cannot split those requests off ({why})")
    reply = await _record(
        call, found.id, ThemeEdit(action="split", requests=tuple(leaving)), status=201
    )
    reply.body["new_theme"] = theme_id(f"{found.id}/{leaving[0]}")
    return reply


@ROUTES.put(
    "/api/v1/themes/{theme_id}/roadmap/{item_id}",
    "Link a theme to a roadmap item: its requests count in the item's demand",
    params=(THEME_ID, ROADMAP_ITEM),
    response=ThemeEditDone,
    responses={404: "No such theme or roadmap item."},
)
async def link_theme(call: Call) -> Any:
    return await link(call, call.args["theme_id"], call.args["item_id"])


async def link(call: Call, theme: str, item: str) -> Reply:
    """Tie a theme to a roadmap item: its requests count in the item's demand."""
    _, found = await _existing(call, theme)
    if call.services.read_model.get("roadmap_item", item) is None:
        raise ApiError(404, "not_found", f"no roadmap item {item!r}")
    return await _record(call, found.id, ThemeEdit(action="link", roadmap_item=item))


@ROUTES.delete(
    "/api/v1/themes/{theme_id}/roadmap/{item_id}",
    "Unlink a theme from a roadmap item",
    params=(THEME_ID, ROADMAP_ITEM),
    response=ThemeEditDone,
    responses={404: "No such theme, or it is not linked to that item."},
)
async def unlink_theme(call: Call) -> Any:
    return await unlink(call, call.args["theme_id"], call.args["item_id"])


async def unlink(call: Call, theme: str, item: str) -> Reply:
    _, found = await _existing(call, theme)
    if item not in found.links:
        raise ApiError(404, "not_found", f"theme {found.id!r} is not linked to {item!r}")
    return await _record(call, found.id, ThemeEdit(action="unlink", roadmap_item=item))


async def themed_demand(call: Call, snap: Snapshot) -> dict[str, set[str]]:
    """Roadmap item -> requests of the themes linked to it, for demand; nothing to build
    while no theme has been linked (the common case costs no theme build)."""
    edits = snap.entities.get("theme", {})
    if not any(e["action"] == "link" for state in edits.values() for e in state["edits"]):
        return {}
    return themed_requests(await themes_of(call, snap))
