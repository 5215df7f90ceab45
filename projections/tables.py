"""The read model as flat tables for BI tools: one schema, one row builder per table.

``hub export`` writes these as CSV or Parquet and ``hub sql`` queries them with DuckDB;
the schema here is the documented one (each column's type and meaning is written next to
the tables as ``schema.json``). Rows hold plain values only: times as ISO 8601 UTC text
(typed TIMESTAMPTZ in Parquet), durations in days, lists joined with ``"; "``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from core.events import iso, parse_utc
from projections.flow import DAY
from projections.investment import categorize, investment_by_team, policy_at
from projections.resources import (
    Allocation,
    ledger,
    roadmap_owner,
    team_resources,
    weekly_allocation,
)
from projections.rollups import Entities, WorkIndex, request_view, roadmap_item_view
from projections.sprints import sprint_reports

__all__ = ["Column", "Table", "TABLES", "TableInputs", "table_rows", "MAX_HISTORY_WEEKS"]

ColumnType = Literal["VARCHAR", "DOUBLE", "BIGINT", "BOOLEAN", "TIMESTAMPTZ"]
MAX_HISTORY_WEEKS = 104  # team weeks and investment cover at most two years back


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str


@dataclass(frozen=True)
class TableInputs:
    """What every table reads: the folded entities up to a moment, and the alert states."""

    entities: Entities
    index: WorkIndex
    alerts: Mapping[str, Mapping[str, Any]]

    @property
    def now(self) -> datetime:
        return self.index.now

    @cached_property
    def owner(self) -> dict[str, str]:
        """Work item -> its roadmap item: read by three tables, worked out once."""
        return roadmap_owner(self.entities, self.index)

    @cached_property
    def history_start(self) -> datetime:
        """The first week with work in it, at most two years before ``now``."""
        earliest = min(
            (v["created_at"] for v in self.index.stable.values() if v["created_at"]),
            default=iso(self.now),
        )
        return max(parse_utc(earliest), self.now - timedelta(weeks=MAX_HISTORY_WEEKS))

    @cached_property
    def shares(self) -> Allocation:
        """The allocation over the whole history: team weeks and investment read the same."""
        return weekly_allocation(self.entities, self.index, self.history_start, self.now)


Rows = Callable[[TableInputs], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    rows: Rows


def _days(seconds: float | None) -> float | None:
    return round(seconds / DAY, 4) if seconds is not None else None


def _join(values: Iterable[Any] | None) -> str:
    return "; ".join(str(v) for v in values or ())


def _c(name: str, type_: ColumnType, description: str) -> Column:
    return Column(name, type_, description)


# --- row builders ----------------------------------------------------------------------


def _work_items(data: TableInputs) -> Iterable[dict[str, Any]]:
    owner = data.owner
    categories = categorize(data.index, owner, policy_at(data.entities, iso(data.now)))
    for key in sorted(data.index.stable):
        v = data.index.views[key]
        yield {
            "key": key,
            "title": v["title"],
            "type": v["type"],
            "project": v["project"],
            "team": v["team"],
            "status": v["status"],
            "status_category": v["status_category"],
            "stage": v["stage"],
            "parent": v["parent"],
            "roadmap_item": owner.get(key),
            "investment_category": categories.get(key),
            "estimate": v["estimate"],
            "priority": v["priority"],
            "labels": _join(v["labels"]),
            "created_at": v["created_at"],
            "started_at": v["started_at"],
            "done_at": v["done_at"],
            "updated_at": v["updated_at"],
            "deleted_at": v["deleted_at"],
            "lead_time_days": _days(v["lead_time_seconds"]),
            "cycle_time_days": _days(v["cycle_time_seconds"]),
            "blocked_days": _days(v["blocked_seconds"]),
            "flow_efficiency": v["flow_efficiency"],
            "reopen_count": v["reopen_count"],
            "url": v["url"],
        }


def _transitions(data: TableInputs) -> Iterable[dict[str, Any]]:
    for key, state in sorted(data.entities.get("work_item", {}).items()):
        for move in state["transitions"]:
            yield {
                "work_item": key,
                "at": move["at"],
                "from_status": move["from_status"],
                "to_status": move["to_status"],
                "from_category": move["from_category"],
                "to_category": move["to_category"],
            }


def _roadmap_items(data: TableInputs) -> Iterable[dict[str, Any]]:
    for key in sorted(data.entities.get("roadmap_item", {})):
        view = roadmap_item_view(key, data.entities, data.index)
        if view is None:
            continue
        progress, demand, scope = view["progress"], view["demand"], view["scope"]
        yield {
            "id": key,
            "title": view["title"],
            "stage": view["stage"],
            "teams": _join(view["teams"]),
            "priority": view["priority"],
            "planned_start": view["planned_start"],
            "target_date": view["target_date"],
            "started_at": view["started_at"],
            "finished_at": view["finished_at"],
            "budget": view["budget"],
            "items_total": progress["items_total"],
            "items_done": progress["items_done"],
            "progress_by_count": progress["by_count"],
            "progress_by_estimate": progress["by_estimate"],
            "scope_growth_pct": scope.get("growth_pct"),
            "accounts": len(demand["accounts"]),
            "arr": demand["arr"],
            "requests_open": demand["requests_open"],
            "deals_open_amount": demand["deals_open_amount"],
            "removed_at": view["removed_at"],
        }


def _requests(data: TableInputs) -> Iterable[dict[str, Any]]:
    for key, state in sorted(data.entities.get("customer_request", {}).items()):
        view = request_view(state, data.entities, data.index)
        yield {
            "key": key,
            "title": view["title"],
            "text": view["text"],
            "status": view["status"],
            "stage": view["stage"],
            "priority": view["priority"],
            "account": view["account"],
            "arr": view["arr"],
            "team": view["team"],
            "roadmap_items": _join(view["roadmap_items"]),
            "work_items": _join(view["work_items"]),
            "opened_at": view["opened_at"],
            "linked_at": view["linked_at"],
            "delivered_at": view["delivered_at"],
            "closed_at": view["closed_at"],
            "time_to_delivery_days": _days(view["time_to_delivery_seconds"]),
        }


def _accounts(data: TableInputs) -> Iterable[dict[str, Any]]:
    for key, state in sorted(data.entities.get("customer_account", {}).items()):
        yield {
            "key": key,
            "name": state.get("name"),
            "tier": state.get("tier"),
            "arr": state.get("arr"),
            "currency": state.get("currency"),
            "domain": state.get("domain"),
            "updated_at": state.get("updated_at"),
            "deleted_at": state.get("deleted_at"),
        }


def _teams(data: TableInputs) -> list[str]:
    named = {v["team"] for v in data.index.stable.values() if v["team"]}
    return sorted(set(data.entities.get("team", {})) | named)


def _team_weeks(data: TableInputs) -> Iterable[dict[str, Any]]:
    start = data.history_start
    books = ledger(data.entities, data.index, data.shares, data.owner)
    for team in _teams(data):
        for row in team_resources(team, data.entities, data.index, start, data.now, books=books):
            yield {
                "team": team,
                "week": row["week"],
                "capacity_fte": row["capacity_fte"],
                "wip": row["wip"],
                "wip_limit": row["wip_limit"],
                "throughput": row["throughput"],
                "effort_fte": row["effort_fte"],
                "unplanned_fte": row["unplanned_fte"],
                "unplanned_share": row["unplanned_share"],
                "support_escalations": row["support_escalations"],
                "support_open": row["support_open"],
            }


def _investment(data: TableInputs) -> Iterable[dict[str, Any]]:
    by_team = investment_by_team(
        data.entities,
        data.index,
        _teams(data),
        data.history_start,
        data.now,
        shares=data.shares,
        owner=data.owner,
    )
    for team, weeks in by_team.items():
        for week in weeks:
            for row in week["categories"]:
                yield {"team": team, "week": week["week"], **row}


def _sprints(data: TableInputs) -> Iterable[dict[str, Any]]:
    for report in sprint_reports(data.entities, data.index, data.now):
        numbers = report.get("numbers") or {}
        yield {
            "key": report["key"],
            "name": report["name"],
            "board": report["board"],
            "team": report["team"],
            "state": report["state"],
            "start_at": report["start_at"],
            "end_at": report["end_at"],
            "completed_at": report["completed_at"],
            **{name: numbers.get(name) for name in _SPRINT_NUMBERS},
        }


_SPRINT_NUMBERS = (
    "committed",
    "committed_points",
    "added",
    "removed",
    "completed",
    "completed_points",
    "completed_committed",
    "carried_over",
    "completed_outside",
    "planning_accuracy",
    "capacity_accuracy",
    "velocity_points",
)


def _alerts(data: TableInputs) -> Iterable[dict[str, Any]]:
    for fingerprint, alert in sorted(data.alerts.items()):
        labels, notes = alert.get("labels", {}), alert.get("annotations", {})
        yield {
            "fingerprint": fingerprint,
            "alertname": labels.get("alertname"),
            "state": alert.get("state"),
            "severity": labels.get("severity"),
            "team": labels.get("team"),
            "roadmap_item": labels.get("roadmap_item"),
            "summary": notes.get("summary"),
            "value": alert.get("value"),
            "active_at": alert.get("active_at"),
            "starts_at": alert.get("starts_at"),
            "ends_at": alert.get("ends_at"),
        }


# --- the schema ------------------------------------------------------------------------

_WHEN: ColumnType = "TIMESTAMPTZ"
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "work_items",
            "One row per work item: where it is and how long it took.",
            (
                _c("key", "VARCHAR", "Work item key, e.g. PAY-12."),
                _c("title", "VARCHAR", "Summary."),
                _c("type", "VARCHAR", "Work type: Story, Bug, Epic..."),
                _c("project", "VARCHAR", "Source project."),
                _c("team", "VARCHAR", "Owning team."),
                _c("status", "VARCHAR", "Current status in the source."),
                _c("status_category", "VARCHAR", "todo, in_progress or done."),
                _c("stage", "VARCHAR", "todo, in_progress, blocked, done or deleted."),
                _c("parent", "VARCHAR", "Parent work item (epic) key."),
                _c("roadmap_item", "VARCHAR", "Roadmap item it serves, through any ancestor."),
                _c("investment_category", "VARCHAR", "Its category under the policy."),
                _c("estimate", "DOUBLE", "Estimate (story points)."),
                _c("priority", "VARCHAR", "Priority."),
                _c("labels", "VARCHAR", "Labels, joined with '; '."),
                _c("created_at", _WHEN, "Created in the source."),
                _c("started_at", _WHEN, "First entered an in-progress status."),
                _c("done_at", _WHEN, "Entered done (last time, if reopened)."),
                _c("updated_at", _WHEN, "Last change seen."),
                _c("deleted_at", _WHEN, "Deleted in the source."),
                _c("lead_time_days", "DOUBLE", "Created to done."),
                _c("cycle_time_days", "DOUBLE", "Time in in-progress statuses."),
                _c("blocked_days", "DOUBLE", "In-progress time in blocked-looking statuses."),
                _c("flow_efficiency", "DOUBLE", "Active over started-to-done time, 0-1."),
                _c("reopen_count", "BIGINT", "Times it left done again."),
                _c("url", "VARCHAR", "Link to the source."),
            ),
            _work_items,
        ),
        Table(
            "status_transitions",
            "Every status change of every work item, at its time in the source.",
            (
                _c("work_item", "VARCHAR", "Work item key."),
                _c("at", _WHEN, "When it changed."),
                _c("from_status", "VARCHAR", "Status before."),
                _c("to_status", "VARCHAR", "Status after."),
                _c("from_category", "VARCHAR", "Category before."),
                _c("to_category", "VARCHAR", "Category after."),
            ),
            _transitions,
        ),
        Table(
            "roadmap_items",
            "One row per roadmap item: stage, progress, scope and demand.",
            (
                _c("id", "VARCHAR", "Roadmap item id."),
                _c("title", "VARCHAR", "Title."),
                _c("stage", "VARCHAR", "concept, planned, in_progress, launched, ..."),
                _c("teams", "VARCHAR", "Teams, joined with '; '."),
                _c("priority", "VARCHAR", "Priority."),
                _c("planned_start", "VARCHAR", "Planned start date (YYYY-MM-DD)."),
                _c("target_date", "VARCHAR", "Target date (YYYY-MM-DD)."),
                _c("started_at", _WHEN, "First of its work started."),
                _c("finished_at", _WHEN, "All of its work done."),
                _c("budget", "DOUBLE", "Budget."),
                _c("items_total", "BIGINT", "Leaf work items."),
                _c("items_done", "BIGINT", "Leaf work items done."),
                _c("progress_by_count", "DOUBLE", "Done over total leaves, 0-1."),
                _c("progress_by_estimate", "DOUBLE", "Done estimate over total, 0-1."),
                _c("scope_growth_pct", "DOUBLE", "Scope growth since commitment, percent."),
                _c("accounts", "BIGINT", "Accounts asking for it."),
                _c("arr", "DOUBLE", "Their annual recurring revenue."),
                _c("requests_open", "BIGINT", "Open customer requests behind it."),
                _c("deals_open_amount", "DOUBLE", "Open deals' amount behind it."),
                _c("removed_at", _WHEN, "Removed from the roadmap."),
            ),
            _roadmap_items,
        ),
        Table(
            "requests",
            "One row per customer request: opened, linked, delivered or closed.",
            (
                _c("key", "VARCHAR", "Request key, e.g. zendesk-123."),
                _c("title", "VARCHAR", "Subject."),
                _c("text", "VARCHAR", "What the customer wrote, scrubbed of personal data."),
                _c("status", "VARCHAR", "Status in the source."),
                _c("stage", "VARCHAR", "opened, linked, delivered or closed."),
                _c("priority", "VARCHAR", "Priority."),
                _c("account", "VARCHAR", "Account key."),
                _c("arr", "DOUBLE", "The account's ARR."),
                _c("team", "VARCHAR", "Team it was escalated to."),
                _c("roadmap_items", "VARCHAR", "Linked roadmap items, joined with '; '."),
                _c("work_items", "VARCHAR", "Linked work items, joined with '; '."),
                _c("opened_at", _WHEN, "Opened."),
                _c("linked_at", _WHEN, "First linked to work or the roadmap."),
                _c("delivered_at", _WHEN, "Its linked work done (never before it was asked)."),
                _c("closed_at", _WHEN, "Closed in the source."),
                _c("time_to_delivery_days", "DOUBLE", "Opened to delivered (or closed)."),
            ),
            _requests,
        ),
        Table(
            "accounts",
            "One row per customer account.",
            (
                _c("key", "VARCHAR", "Account key."),
                _c("name", "VARCHAR", "Name."),
                _c("tier", "VARCHAR", "Tier."),
                _c("arr", "DOUBLE", "Annual recurring revenue."),
                _c("currency", "VARCHAR", "Currency of the ARR."),
                _c("domain", "VARCHAR", "Web domain."),
                _c("updated_at", _WHEN, "Last change seen."),
                _c("deleted_at", _WHEN, "Deleted in the source."),
            ),
            _accounts,
        ),
        Table(
            "team_weeks",
            "One row per team and ISO week: capacity, WIP, throughput, effort, support.",
            (
                _c("team", "VARCHAR", "Team."),
                _c("week", "VARCHAR", "ISO week, e.g. 2026-W10."),
                _c("capacity_fte", "DOUBLE", "Planned capacity."),
                _c("wip", "BIGINT", "Leaves in progress at the week's end."),
                _c("wip_limit", "BIGINT", "WIP limit."),
                _c("throughput", "BIGINT", "Items finished."),
                _c("effort_fte", "DOUBLE", "Effort spent, FTE."),
                _c("unplanned_fte", "DOUBLE", "Effort on no roadmap item, FTE."),
                _c("unplanned_share", "DOUBLE", "Unplanned over all effort, 0-1."),
                _c("support_escalations", "BIGINT", "Requests escalated to it."),
                _c("support_open", "BIGINT", "Escalated requests open at the week's end."),
            ),
            _team_weeks,
        ),
        Table(
            "team_investment",
            "One row per team, ISO week and investment category: effort against target.",
            (
                _c("team", "VARCHAR", "Team."),
                _c("week", "VARCHAR", "ISO week."),
                _c("category", "VARCHAR", "Investment category."),
                _c("effort_fte", "DOUBLE", "Effort in the category, FTE."),
                _c("share", "DOUBLE", "Share of the team's effort, 0-1."),
                _c("target_share", "DOUBLE", "The team's target share then, 0-1."),
                _c("gap", "DOUBLE", "share - target_share."),
            ),
            _investment,
        ),
        Table(
            "sprints",
            "One row per sprint: commitment, completion and planning accuracy.",
            (
                _c("key", "VARCHAR", "Sprint key."),
                _c("name", "VARCHAR", "Name."),
                _c("board", "VARCHAR", "Board id."),
                _c("team", "VARCHAR", "Team most of its items belong to."),
                _c("state", "VARCHAR", "future, active or closed."),
                _c("start_at", _WHEN, "Started."),
                _c("end_at", _WHEN, "Planned end."),
                _c("completed_at", _WHEN, "Closed."),
                _c("committed", "BIGINT", "Items in it at its start, not already done."),
                _c("committed_points", "DOUBLE", "Their estimates at the start."),
                _c("added", "BIGINT", "Items added after the start."),
                _c("removed", "BIGINT", "Items removed before its end."),
                _c("completed", "BIGINT", "Items done at its end."),
                _c("completed_points", "DOUBLE", "Their estimates."),
                _c("completed_committed", "BIGINT", "Committed items done at its end."),
                _c("carried_over", "BIGINT", "Items not done when it closed."),
                _c("completed_outside", "BIGINT", "Items already done when they joined."),
                _c("planning_accuracy", "DOUBLE", "completed_committed / committed."),
                _c("capacity_accuracy", "DOUBLE", "completed / committed."),
                _c("velocity_points", "DOUBLE", "Completed points."),
            ),
            _sprints,
        ),
        Table(
            "alerts",
            "One row per alert the hub holds, firing or resolved.",
            (
                _c("fingerprint", "VARCHAR", "Alert identity."),
                _c("alertname", "VARCHAR", "Rule, e.g. ForecastSlip."),
                _c("state", "VARCHAR", "pending, firing, recovering, resolved, inactive."),
                _c("severity", "VARCHAR", "info, warning or critical."),
                _c("team", "VARCHAR", "Team label."),
                _c("roadmap_item", "VARCHAR", "Roadmap item label."),
                _c("summary", "VARCHAR", "What it says."),
                _c("value", "DOUBLE", "The observed value."),
                _c("active_at", _WHEN, "First observed."),
                _c("starts_at", _WHEN, "Started firing."),
                _c("ends_at", _WHEN, "Resolved."),
            ),
            _alerts,
        ),
    )
}


def table_rows(table: Table, data: TableInputs) -> Iterable[dict[str, Any]]:
    """The table's rows with exactly its columns, in its order."""
    names = [c.name for c in table.columns]
    for row in table.rows(data):
        yield {name: row.get(name) for name in names}
