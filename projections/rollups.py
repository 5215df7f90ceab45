"""Views across entities: roadmap item progress, scope and demand; customer request lifecycle.

Inputs are the folded states of every entity (``Entities``); outputs are what the API
returns. Pure functions of their inputs and ``now``, so the same code answers live queries,
time-travel queries (states rebuilt from the log up to a moment) and tests.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from datetime import datetime
from functools import lru_cache
from typing import Any

from core.events import iso
from projections.customers import current_links
from projections.jql import JqlError, compile_jql
from projections.roadmap import plan_at
from projections.timeline import seconds_between
from projections.work_items import ViewBase, view_at, view_base

__all__ = ["Entities", "WorkIndex", "roadmap_item_view", "request_view", "stage_of_roadmap_item"]

State = dict[str, Any]
Entities = Mapping[str, Mapping[str, State]]  # kind -> key -> folded state


class WorkIndex:
    """Work item views and the parent tree, computed once per query over many items.

    ``stable`` holds each item's clock-independent fields (team, stage, links, dates) for
    filtering over every item; ``views`` finishes an item's flow numbers as of ``now`` only
    when it is read, so a query that returns a page pays for the page, not the whole index.
    """

    def __init__(
        self,
        entities: Entities,
        now: datetime,
        bases: Mapping[str, ViewBase] | None = None,
    ) -> None:
        self.now = now
        self.entities = entities  # what the index was built over: read them together
        states = entities.get("work_item", {})
        if bases is None:
            bases = {key: view_base(state) for key, state in states.items()}
        self.bases = bases
        # A plain dict, not a view over ``bases``: the drift inputs read it millions of
        # times at scale, and a Python-level ``__getitem__`` was a fifth of an evaluation.
        self.stable: Mapping[str, Mapping[str, Any]] = {
            key: base.fields for key, base in bases.items()
        }
        self.views: Mapping[str, dict[str, Any]] = _ViewsAt(bases, now)
        self.children: dict[str, list[str]] = defaultdict(list)
        self.by_roadmap: dict[str, set[str]] = defaultdict(set)
        for key, base in bases.items():
            parent = base.fields["parent"]
            if parent:
                self.children[parent].append(key)
            roadmap = base.fields["roadmap_item"]
            if roadmap:
                self.by_roadmap[roadmap].add(key)
        self._sorted: list[Mapping[str, Any]] | None = None
        self._by_team: dict[str | None, list[Mapping[str, Any]]] | None = None
        self._demand: _DemandIndex | None = None
        self._live_teams: dict[str, str] | None = None
        self._sprint_members: dict[str, set[str]] | None = None

    def at(self, now: datetime) -> WorkIndex:
        """This index as of another moment: the clock-independent parts (stable fields,
        the tree, the orderings and groupings already made) shared, the views finished as
        of ``now``. A current index is then reused however long ago it was built; at
        100k items building one again is half a second."""
        moved = copy.copy(self)
        moved.now, moved.views = now, _ViewsAt(self.bases, now)
        return moved

    def live_teams(self) -> dict[str, str]:
        """Work item -> its team, for the items that count for a team (a team, not
        deleted), in key order of the index; worked out once per index."""
        if self._live_teams is None:
            self._live_teams = {
                key: fields["team"]
                for key, fields in self.stable.items()
                if fields["team"] and not fields["deleted_at"]
            }
        return self._live_teams

    def sprint_members(self) -> dict[str, set[str]]:
        """Sprint key -> every work item that was ever in it, from the items' bases (not
        their states: a forked evaluation that reads every state copies every page it is
        on); worked out once per index."""
        if self._sprint_members is None:
            members: dict[str, set[str]] = defaultdict(set)
            for key, base in self.bases.items():
                for sprint in base.sprints:
                    members[sprint].add(key)
            self._sprint_members = dict(members)
        return self._sprint_members

    def demand_index(self) -> _DemandIndex:
        """Requests and live deals by the roadmap items and work items they link to, built
        once per index: each roadmap item's demand then reads its own links instead of
        every request in the organisation."""
        if self._demand is None:
            self._demand = _DemandIndex(self.entities)
        return self._demand

    def in_key_order(self) -> list[Mapping[str, Any]]:
        """Every item's stable fields sorted by key, sorted once per index."""
        if self._sorted is None:
            self._sorted = [self.bases[k].fields for k in sorted(self.bases)]
        return self._sorted

    def prepare_lists(self) -> None:
        """Sort and group now what list pages read (``in_key_order``, by team), so the
        first list query after a build does not: 100k keys take 0.2 s to sort and group,
        and every query behind that one waits."""
        self.team_in_key_order(None)

    def team_in_key_order(self, team: str | None) -> list[Mapping[str, Any]]:
        """One team's items as ``in_key_order`` gives them, grouped once per index: a
        team's list page then reads that team's items, not the organisation's."""
        if self._by_team is None:
            grouped: dict[str | None, list[Mapping[str, Any]]] = defaultdict(list)
            for fields in self.in_key_order():
                grouped[fields["team"]].append(fields)
            self._by_team = dict(grouped)
        return self._by_team.get(team, [])

    def members(self, roadmap_id: str, plan: Mapping[str, Any] | None) -> set[str]:
        """Work items of a roadmap item: linked directly, by plan keys, epics or labels, and
        every descendant of those (parents inherit their children)."""
        roots = set(self.by_roadmap.get(roadmap_id, ()))
        if plan:
            named = set(plan.get("keys") or ()) | set(plan.get("epics") or ())
            roots |= named & self.bases.keys()
            labels = set(plan.get("labels") or ())
            if labels:
                roots |= {k for k, v in self.stable.items() if labels & set(v["labels"])}
            matches = _jql(plan.get("jql"))
            if matches is not None:
                roots |= {k for k, v in self.stable.items() if matches(v)}
        found: set[str] = set()
        stack = list(roots)
        while stack:
            key = stack.pop()
            if key in found:
                continue
            found.add(key)
            stack.extend(self.children.get(key, ()))
        return found

    def leaves(self, members: Iterable[str]) -> list[str]:
        """Members that carry the work themselves: those with no member children."""
        members = set(members)
        return sorted(k for k in members if not members.intersection(self.children.get(k, ())))


class _DemandIndex:
    """(kind, target key) -> keys of the requests (or live deals) linked to it now."""

    def __init__(self, entities: Entities) -> None:
        self.requests: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.deals: dict[tuple[str, str], set[str]] = defaultdict(set)
        for key, request in entities.get("customer_request", {}).items():
            for kind in ("roadmap_item", "work_item"):
                for target in current_links(request, kind):
                    self.requests[(kind, target)].add(key)
        for key, deal in entities.get("deal", {}).items():
            if deal.get("deleted_at"):
                continue
            for kind in ("roadmap_item", "work_item"):
                for target in current_links(deal, kind):
                    self.deals[(kind, target)].add(key)

    def linked(self, table: Mapping[tuple[str, str], set[str]], roadmap_id: str,
               members: Set[str]) -> set[str]:  # fmt: skip
        found = set(table.get(("roadmap_item", roadmap_id), ()))
        for member in members:
            found |= table.get(("work_item", member), set())
        return found


class _ViewsAt(Mapping[str, dict[str, Any]]):
    """Views as of one moment, each finished on first read and kept."""

    def __init__(self, bases: Mapping[str, ViewBase], now: datetime) -> None:
        self._bases, self._now = bases, now
        self._done: dict[str, dict[str, Any]] = {}

    def __getitem__(self, key: str) -> dict[str, Any]:
        view = self._done.get(key)
        if view is None:
            view = self._done[key] = view_at(self._bases[key], self._now)
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(self._bases)

    def __len__(self) -> int:
        return len(self._bases)


@lru_cache(maxsize=256)
def _jql(text: str | None) -> Callable[[Mapping[str, Any]], bool] | None:
    """A roadmap item's JQL as a predicate; unsupported JQL matches nothing here (the
    roadmap's validation reports it, with the reason, when the plan is applied)."""
    if not text:
        return None
    try:
        return compile_jql(text)
    except JqlError:
        return None


def _progress(views: list[Mapping[str, Any]]) -> dict[str, Any]:
    total = len(views)
    done = sum(1 for v in views if v["status_category"] == "done")
    estimated = [v for v in views if v["estimate"] is not None]
    est_total = sum(v["estimate"] for v in estimated)
    est_done = sum(v["estimate"] for v in estimated if v["status_category"] == "done")
    return {
        "items_total": total,
        "items_done": done,
        "items_in_progress": sum(1 for v in views if v["status_category"] == "in_progress"),
        "by_count": round(done / total, 4) if total else None,
        "estimate_total": est_total,
        "estimate_done": est_done,
        "by_estimate": round(est_done / est_total, 4) if est_total else None,
    }


def stage_of_roadmap_item(
    state: State, plan: Mapping[str, Any] | None, progress: Mapping[str, Any]
) -> str:
    if state.get("removed_at"):
        return "retired"
    if plan and plan.get("cancelled"):
        return "cancelled"
    if progress["items_total"] and progress["items_done"] == progress["items_total"]:
        return "launched"
    if progress["items_done"] or progress["items_in_progress"]:
        return "in_progress"
    if plan and (plan.get("committed_at") or plan.get("planned_start") or plan.get("target_date")):
        return "planned"
    return "concept"


def _scope(
    index: WorkIndex, leaves: list[str], deleted: list[str], committed_at: str | None
) -> dict[str, Any]:
    """Scope at commitment (leaves that existed then) against scope now."""
    if not committed_at:
        return {"committed_at": None}
    views = index.stable

    def existed(key: str) -> bool:
        created = views[key]["created_at"]
        gone = views[key]["deleted_at"]
        return bool(created and created <= committed_at and (gone is None or gone > committed_at))

    committed = {k for k in [*leaves, *deleted] if existed(k)}
    current = set(leaves)
    added, removed = sorted(current - committed), sorted(committed - current)

    def estimate(keys: Iterable[str]) -> float:
        return sum(views[k]["estimate"] or 0 for k in keys)

    base = len(committed)
    return {
        "committed_at": committed_at,
        "committed_items": base,
        "committed_estimate": estimate(committed),
        "items_added": len(added),
        "items_removed": len(removed),
        "estimate_added": estimate(added),
        "estimate_removed": estimate(removed),
        "growth_pct": round(100 * (len(current) - base) / base, 1) if base else None,
        "added": added,
        "removed": removed,
    }


def roadmap_item_view(
    key: str,
    entities: Entities,
    index: WorkIndex,
    *,
    plan_as_of: str | None = None,
    themed: Mapping[str, Set[str]] | None = None,
) -> dict[str, Any] | None:
    """``themed``: roadmap item -> the requests of the feedback themes linked to it, which
    count in its demand like requests linked to it directly."""
    state = entities.get("roadmap_item", {}).get(key)
    if state is None:
        return None
    plan = plan_at(state, plan_as_of)
    members = index.members(key, plan)
    live = [k for k in members if not index.stable[k]["deleted_at"]]
    deleted = [k for k in members if index.stable[k]["deleted_at"]]
    leaves = index.leaves(live)
    leaf_views = [index.stable[k] for k in leaves]
    progress = _progress(leaf_views)
    started = min((v["started_at"] for v in leaf_views if v["started_at"]), default=None)
    finished = None
    if leaf_views and progress["items_done"] == progress["items_total"]:
        finished = max(v["done_at"] for v in leaf_views if v["done_at"])
    activity = max((index.stable[k]["updated_at"] or "" for k in members), default="") or None
    plan = plan or {}
    return {
        "id": key,
        "title": plan.get("title"),
        "teams": plan.get("teams", []),
        "priority": plan.get("priority"),
        "stage": stage_of_roadmap_item(state, plan, progress),
        "planned_start": plan.get("planned_start"),
        "target_date": plan.get("target_date"),
        "started_at": started,
        "finished_at": finished,
        "last_activity_at": activity,
        "progress": progress,
        "scope": _scope(index, leaves, deleted, plan.get("committed_at")),
        "demand": _demand(
            key, set(members), entities, (themed or {}).get(key, set()), index.demand_index()
        ),
        "budget": plan.get("budget"),
        "planned_allocation": plan.get("planned_allocation", {}),
        "work_items": sorted(members),
        "plan_versions": len(state["versions"]),
        "removed_at": state.get("removed_at"),
    }


def _demand(
    roadmap_id: str,
    members: set[str],
    entities: Entities,
    themed: Set[str],
    links: _DemandIndex,
) -> dict[str, Any]:
    accounts = entities.get("customer_account", {})
    all_requests = entities.get("customer_request", {})
    all_deals = entities.get("deal", {})
    wanted = (set(themed) & all_requests.keys()) | links.linked(links.requests, roadmap_id, members)
    requests = [all_requests[k] for k in sorted(wanted)]
    deals = [all_deals[k] for k in sorted(links.linked(links.deals, roadmap_id, members))]
    account_keys = {r.get("account") for r in requests} | {d.get("account") for d in deals}
    account_keys.discard(None)
    live = {a for a in account_keys if a and a in accounts and not accounts[a].get("deleted_at")}
    arr = sum(accounts[a].get("arr") or 0 for a in live)
    open_deals = [d for d in deals if not d.get("is_closed")]
    return {
        "accounts": sorted(account_keys),
        "arr": arr,
        "requests_total": len(requests),
        "requests_open": sum(1 for r in requests if not r.get("closed_at")),
        "deals_open": len(open_deals),
        "deals_open_amount": sum(d.get("amount") or 0 for d in open_deals),
    }


def request_view(state: State, entities: Entities, index: WorkIndex) -> dict[str, Any]:
    """A customer request through opened -> linked -> delivered / closed."""
    work = current_links(state, "work_item")
    roadmap = current_links(state, "roadmap_item")
    link_times = [v["at"] for v in state.get("links", {}).values() if not v["removed"]]
    linked_at = min(link_times) if link_times else None
    work_views = [index.stable[k] for k in work if k in index.stable]
    opened = state.get("opened_at")
    delivered_at = None
    if work_views and all(v["status_category"] == "done" for v in work_views):
        done = max(v["done_at"] for v in work_views if v["done_at"])
        # Delivered once the work is done *and* the request is tied to it: work finished
        # before the customer asked is delivered when the request is linked to it, so
        # delivery never precedes the request (nor its link) and time to delivery >= 0.
        delivered_at = max(t for t in (done, linked_at, opened) if t)
    account = entities.get("customer_account", {}).get(state.get("account") or "")
    ended = delivered_at or state.get("closed_at")
    stage = "opened"
    if linked_at:
        stage = "linked"
    if delivered_at:
        stage = "delivered"
    if state.get("closed_at") and not delivered_at:
        stage = "closed"
    return {
        "key": state["key"],
        "title": state.get("title"),
        "text": state.get("text"),
        "status": state.get("status"),
        "priority": state.get("priority"),
        "stage": stage,
        "account": state.get("account"),
        "account_name": account.get("name") if account else None,
        "arr": account.get("arr") if account else None,
        "team": state["escalations"][-1]["team"] if state.get("escalations") else state.get("team"),
        "work_items": work,
        "roadmap_items": roadmap,
        "opened_at": opened,
        "linked_at": linked_at,
        "delivered_at": delivered_at,
        "closed_at": state.get("closed_at"),
        "time_to_delivery_seconds": seconds_between(opened, ended) if opened and ended else None,
        "age_seconds": seconds_between(opened, iso(index.now)) if opened else None,
    }
