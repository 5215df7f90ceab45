"""``/api/v1/workitems``: each work item's lifecycle, one or many."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from hub.api.errors import ApiError
from hub.api.params import Query, page_body, paginate
from hub.api.snapshots import snapshot
from hub.events import utcnow
from projections.roadmap import plan_at

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register", "STAGES"]

STAGES = ("todo", "in_progress", "blocked", "done", "deleted")


def summary(view: dict[str, Any]) -> dict[str, Any]:
    """A list row: the view without its timeline."""
    return {k: v for k, v in view.items() if k != "timeline"}


def register(app: HubApp) -> None:
    @app.page("/api/v1/workitems/{key}")
    async def work_item(self: View, request: Request, key: str) -> Response:
        query = Query(request, {"as_of"})
        as_of = query.time("as_of")
        if as_of is None:  # a live key lookup needs this one view, not the whole index
            view = app.read_model.work_item_view(key)  # type: ignore[attr-defined]
            moment = utcnow()
        else:
            snap = await snapshot(app, as_of)
            view, moment = snap.index.views.get(key), as_of
        if view is None:
            raise ApiError(404, "not_found", f"no work item {key!r}")
        return self.json({**view, "as_of": moment.isoformat()})

    @app.page("/api/v1/workitems")
    async def work_items(self: View, request: Request) -> Response:
        query = Query(
            request, {"team", "stage", "roadmap_item", "updated_since", "limit", "cursor", "as_of"}
        )
        team, roadmap_item = query.text("team"), query.text("roadmap_item")
        stage = query.choice("stage", STAGES)
        since = query.time("updated_since")
        limit, after = query.limit(), query.cursor()
        snap = await snapshot(app, query.time("as_of"))
        # Filter on the clock-independent fields of every item, already in key order; only
        # the page's views are finished as of now.
        rows: list[Mapping[str, Any]] = snap.index.in_key_order()
        if roadmap_item is not None:
            state = snap.get("roadmap_item", roadmap_item)
            members = snap.index.members(roadmap_item, plan_at(state) if state else None)
            rows = [v for v in rows if v["key"] in members]
        if team is not None:
            rows = [v for v in rows if v["team"] == team]
        if stage is not None:
            rows = [v for v in rows if v["stage"] == stage]
        if since is not None:
            cutoff = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            rows = [v for v in rows if (v["updated_at"] or "") >= cutoff]
        found, token = paginate(rows, lambda v: v["key"], after, limit)
        page = [snap.index.views[v["key"]] for v in found]
        return self.json(page_body([summary(v) for v in page], token))
