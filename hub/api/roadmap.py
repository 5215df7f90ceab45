"""``/api/v1/roadmap``: the plan itself (GET, PUT) and its items with progress, scope
change and demand."""

from __future__ import annotations

from typing import Any

from core.events import iso, utcnow
from core.stages import ROADMAP_STAGES
from core.validation import InvalidConfigError
from hub.api.declare import (
    AS_OF,
    CURSOR,
    LIMIT,
    Call,
    Routes,
    choice,
    flag,
    page_body,
    paginate,
    text,
)
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.schemas import PlannedRoadmap, RoadmapItem, RoadmapItemPage
from hub.api.snapshots import snapshot
from hub.api.themes import themed_demand
from projections.roadmap_document import (
    RoadmapDocument,
    document_at,
    link_warnings,
    load_roadmap_text,
    roadmap_changes,
)
from projections.rollups import roadmap_item_view

__all__ = ["ROUTES"]

ROUTES = Routes("roadmap")


def _invalid(exc: InvalidConfigError) -> ApiError:
    return ApiError(422, "invalid_roadmap", str(exc), [p.as_dict() for p in exc.problems])


@ROUTES.get(
    "/api/v1/roadmap",
    "The roadmap document, now or as it stood at as_of",
    params=(AS_OF,),
    response=PlannedRoadmap,
)
async def roadmap_document(call: Call) -> Any:
    as_of = call.args["as_of"]
    snap = await snapshot(call.services, as_of)
    return document_at(snap.entities, iso(as_of) if as_of else None)


@ROUTES.put(
    "/api/v1/roadmap",
    "Make the plan equal to this document (YAML or JSON); one event per change. "
    "Warnings list dangling links.",
    params=(flag("dry_run", "Validate and diff only."),),
    body=RoadmapDocument,
    body_types=("application/yaml", "application/json"),
    responses={422: "The document is invalid: every problem with its field path"},
)
async def apply_roadmap(call: Call) -> Any:
    dry_run = call.args["dry_run"]
    try:
        doc = load_roadmap_text(await call.text())
    except InvalidConfigError as exc:
        raise _invalid(exc) from None
    snap = await snapshot(call.services, None)
    events = roadmap_changes(doc, snap.entities, utcnow())
    warnings = link_warnings(doc, snap.entities, snap.index)
    if not dry_run:
        await call.services.publisher.publish_events(events)
    return {
        "dry_run": dry_run,
        "changes": [{"type": e.type, "key": e.entity.key, "event_id": e.event_id} for e in events],
        "warnings": [w.as_dict() for w in warnings],
    }


@ROUTES.get(
    "/api/v1/roadmap/items/{item_id}",
    "One roadmap item: progress, scope change, demand",
    params=(path_param("item_id", "Roadmap item id."), AS_OF),
    response=RoadmapItem,
)
async def roadmap_item(call: Call) -> Any:
    item_id, as_of = call.args["item_id"], call.args["as_of"]
    snap = await snapshot(call.services, as_of)
    plan_as_of = iso(as_of) if as_of else None
    themed = await themed_demand(call, snap)
    view = roadmap_item_view(
        item_id, snap.entities, snap.index, plan_as_of=plan_as_of, themed=themed
    )
    if view is None:
        raise ApiError(404, "not_found", f"no roadmap item {item_id!r}")
    return {**view, "as_of": snap.index.now.isoformat()}


@ROUTES.get(
    "/api/v1/roadmap/items",
    "Roadmap items with progress",
    params=(text("team"), choice("stage", ROADMAP_STAGES), LIMIT, CURSOR, AS_OF),
    response=RoadmapItemPage,
)
async def roadmap_items(call: Call) -> Any:
    team, stage, as_of = call.args["team"], call.args["stage"], call.args["as_of"]
    snap = await snapshot(call.services, as_of)
    plan_as_of = iso(as_of) if as_of else None
    views, themed = [], await themed_demand(call, snap)
    for key in snap.entities.get("roadmap_item", {}):
        view = roadmap_item_view(
            key, snap.entities, snap.index, plan_as_of=plan_as_of, themed=themed
        )
        if view is None or (team and team not in view["teams"]):
            continue
        if stage and view["stage"] != stage:
            continue
        views.append({k: v for k, v in view.items() if k != "work_items"})
    page, token = paginate(views, lambda v: v["id"], call.args["cursor"], call.args["limit"])
    return page_body(page, token)
