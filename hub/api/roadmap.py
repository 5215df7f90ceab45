"""``/api/v1/roadmap``: the plan itself (GET, PUT) and its items with progress, scope
change and demand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faust.web import Request, Response, View

from hub.api.errors import ApiError
from hub.api.params import Query, page_body, paginate
from hub.api.snapshots import snapshot
from hub.codec import encode
from hub.events import iso, utcnow
from hub.roadmap_document import document_at, link_warnings, load_roadmap_text, roadmap_changes
from hub.topics import ROADMAP
from hub.validation import InvalidConfigError
from projections.rollups import roadmap_item_view

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register", "ROADMAP_STAGES"]

ROADMAP_STAGES = ("concept", "planned", "in_progress", "launched", "retired", "cancelled")


def _invalid(exc: InvalidConfigError) -> ApiError:
    return ApiError(422, "invalid_roadmap", str(exc), [p.as_dict() for p in exc.problems])


def register(app: HubApp) -> None:
    @app.page("/api/v1/roadmap")
    class Roadmap(View):
        async def get(self, request: Request) -> Response:
            """The roadmap document as the log holds it, now or at ``as_of``."""
            query = Query(request, {"as_of"})
            as_of = query.time("as_of")
            snap = await snapshot(app, as_of)
            return self.json(document_at(snap.entities, iso(as_of) if as_of else None))

        async def put(self, request: Request) -> Response:
            """Make the plan equal to the body (YAML or JSON): one event per change."""
            query = Query(request, {"dry_run"})
            dry_run = query.flag("dry_run")
            try:
                doc = load_roadmap_text(await request.text())
            except InvalidConfigError as exc:
                raise _invalid(exc) from None
            snap = await snapshot(app, None)
            events = roadmap_changes(doc, snap.entities, utcnow())
            warnings = link_warnings(doc, snap.entities, snap.index)
            if not dry_run:
                for event in events:
                    await (await app.produce(ROADMAP.name, event.entity.stream_key, encode(event)))
            return self.json(
                {
                    "dry_run": dry_run,
                    "changes": [
                        {"type": e.type, "key": e.entity.key, "event_id": e.event_id}
                        for e in events
                    ],
                    "warnings": [w.as_dict() for w in warnings],
                }
            )

    @app.page("/api/v1/roadmap/items/{item_id}")
    async def roadmap_item(self: View, request: Request, item_id: str) -> Response:
        query = Query(request, {"as_of"})
        as_of = query.time("as_of")
        snap = await snapshot(app, as_of)
        plan_as_of = iso(as_of) if as_of else None
        view = roadmap_item_view(item_id, snap.entities, snap.index, plan_as_of=plan_as_of)
        if view is None:
            raise ApiError(404, "not_found", f"no roadmap item {item_id!r}")
        return self.json({**view, "as_of": snap.index.now.isoformat()})

    @app.page("/api/v1/roadmap/items")
    async def roadmap_items(self: View, request: Request) -> Response:
        query = Query(request, {"team", "stage", "limit", "cursor", "as_of"})
        team, stage = query.text("team"), query.choice("stage", ROADMAP_STAGES)
        limit, after = query.limit(), query.cursor()
        as_of = query.time("as_of")
        snap = await snapshot(app, as_of)
        plan_as_of = iso(as_of) if as_of else None
        views = []
        for key in snap.entities.get("roadmap_item", {}):
            view = roadmap_item_view(key, snap.entities, snap.index, plan_as_of=plan_as_of)
            if view is None or (team and team not in view["teams"]):
                continue
            if stage and view["stage"] != stage:
                continue
            views.append({k: v for k, v in view.items() if k != "work_items"})
        page, token = paginate(views, lambda v: v["id"], after, limit)
        return self.json(page_body(page, token))
