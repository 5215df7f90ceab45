"""``/api/v1/requests`` and ``/api/v1/customers/{id}/requests``: demand and its delivery."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from hub.api.errors import ApiError
from hub.api.params import Query, page_body, paginate
from hub.api.snapshots import Snapshot, snapshot
from projections.roadmap import plan_at
from projections.rollups import request_view

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register"]


def _requests(snap: Snapshot) -> list[dict[str, Any]]:
    states = snap.entities.get("customer_request", {}).values()
    return [request_view(state, snap.entities, snap.index) for state in states]


def register(app: HubApp) -> None:
    @app.page("/api/v1/customers/{account}/requests")
    async def customer_requests(self: View, request: Request, account: str) -> Response:
        query = Query(request, {"limit", "cursor", "as_of"})
        limit, after = query.limit(), query.cursor()
        snap = await snapshot(app, query.time("as_of"))
        if snap.get("customer_account", account) is None:
            raise ApiError(404, "not_found", f"no customer account {account!r}")
        views = [v for v in _requests(snap) if v["account"] == account]
        page, token = paginate(views, lambda v: v["key"], after, limit)
        return self.json(page_body(page, token))

    @app.page("/api/v1/requests")
    async def requests(self: View, request: Request) -> Response:
        query = Query(
            request, {"status", "stage", "roadmap_item", "team", "limit", "cursor", "as_of"}
        )
        status, roadmap_item = query.text("status"), query.text("roadmap_item")
        stage = query.choice("stage", ("opened", "linked", "delivered", "closed"))
        team = query.text("team")
        limit, after = query.limit(), query.cursor()
        snap = await snapshot(app, query.time("as_of"))
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
        page, token = paginate(views, lambda v: v["key"], after, limit)
        return self.json(page_body(page, token))
