"""Customers and demand: roadmap items ranked by the ARR and requests behind them, the
accounts waiting longest, and open requests that no roadmap item answers yet."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from core.events import iso
from hub.api.declare import Call, Routes
from hub.api.snapshots import Snapshot
from hub.api.themes import themed_demand
from hub.dashboard.frame import AS_OF_DAY, frame, html
from projections.rollups import request_view, roadmap_item_view

__all__ = ["ROUTES", "demand_tables"]

ROUTES = Routes("dashboard")
LIST_ROWS = 100  # the longest list a page shows; the API pages through the rest


def demand_tables(snap: Snapshot, themed: Mapping[str, set[str]] | None = None) -> dict[str, Any]:
    """The page's three tables, each sorted by what people act on first; ``themed``: the
    requests of feedback themes linked to each roadmap item."""
    plan_as_of = iso(snap.as_of) if snap.as_of else None
    ranked = []
    for key, state in snap.entities.get("roadmap_item", {}).items():
        if state.get("removed_at"):
            continue
        view = roadmap_item_view(
            key, snap.entities, snap.index, plan_as_of=plan_as_of, themed=themed
        )
        if view is not None and view["demand"]["requests_total"]:
            ranked.append(view)
    ranked.sort(key=lambda v: (-(v["demand"]["arr"] or 0), -v["demand"]["requests_open"], v["id"]))
    views = [
        request_view(s, snap.entities, snap.index)
        for s in snap.entities.get("customer_request", {}).values()
    ]
    open_views = [v for v in views if not v["closed_at"] and not v["delivered_at"]]
    waiting: dict[str, dict[str, Any]] = defaultdict(lambda: {"requests": 0, "oldest": None})
    for v in open_views:
        if not v["account"]:
            continue
        row = waiting[v["account"]]
        row.update(account=v["account"], name=v["account_name"], arr=v["arr"])
        row["requests"] += 1
        if v["opened_at"] and (
            row["oldest"] is None or v["opened_at"] < row["oldest"]["opened_at"]
        ):
            row["oldest"] = v
    accounts = sorted(
        (r for r in waiting.values() if r["oldest"]),
        key=lambda r: (r["oldest"]["opened_at"], r["account"]),
    )
    unlinked = sorted(
        (v for v in open_views if not v["roadmap_items"] and not v["work_items"]),
        key=lambda v: (-(v["arr"] or 0), v["opened_at"] or "", v["key"]),
    )
    return {
        "ranked": ranked[:LIST_ROWS],
        "accounts": accounts[:LIST_ROWS],
        "unlinked": unlinked[:LIST_ROWS],
        "unlinked_total": len(unlinked),
        "accounts_total": len(accounts),
    }


@ROUTES.get(
    "/demand", "Customers and demand", params=(AS_OF_DAY,), page=True, media_type="text/html"
)
async def demand_page(call: Call) -> Any:
    f = frame(call)
    snap = await f.snapshot()
    return html(
        "demand.html",
        f.context(
            "demand",
            "Customers & demand",
            as_of_control=True,
            **demand_tables(snap, await themed_demand(call, snap)),
        ),
    )
