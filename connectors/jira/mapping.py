"""Jira issues to canonical events: pure functions, tested on the real samples.

Every changelog history item becomes its own event at the time it happened, so lifecycle
projections are exact rather than snapshots. Event ids come from Jira's own ids (issue,
history, worklog) and the issue's ``updated`` time, so a change pulled twice, or pulled
and received by webhook, is one event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.jira.fields import FieldIds
from core.events import Event, parse_utc

__all__ = [
    "CORE_FIELDS",
    "FieldIds",
    "MappingContext",
    "category_of",
    "map_issue",
    "sprint_key",
]

MakeEvent = Callable[[str, str, str, datetime, Mapping[str, Any]], Event]

CORE_FIELDS = (
    "summary", "issuetype", "project", "status", "assignee", "reporter", "priority", "labels",
    "components", "fixVersions", "parent", "resolution", "duedate", "created", "updated",
    "worklog", "timeoriginalestimate",
)  # fmt: skip
_CATEGORY = {"new": "todo", "indeterminate": "in_progress", "done": "done"}


def category_of(status: Mapping[str, Any] | None) -> str | None:
    if not status:
        return None
    key = (status.get("statusCategory") or {}).get("key")
    return _CATEGORY.get(key or "", "todo")


@dataclass(frozen=True)
class MappingContext:
    make: MakeEvent
    base_url: str
    fields: FieldIds = field(default_factory=FieldIds)
    categories: Mapping[str, str] = field(default_factory=dict)  # status name -> category
    component_teams: Mapping[str, str] = field(default_factory=dict)
    project_teams: Mapping[str, str] = field(default_factory=dict)
    issue_teams: Mapping[str, str] = field(default_factory=dict)  # from board mappings
    estimates_readable: bool = True  # False while the story points field has drifted

    def category(self, status_name: str | None) -> str:
        return self.categories.get(status_name or "", "todo")


def _name(value: Any, key: str = "name") -> str | None:
    return (
        value.get(key) if isinstance(value, dict) else (value if isinstance(value, str) else None)
    )


def _person(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return (
        value.get("accountId") or value.get("name") or value.get("key") or value.get("displayName")
    )


def _sprint(value: Any) -> str | None:
    if isinstance(value, list) and value:
        active = [s for s in value if isinstance(s, dict) and s.get("state") == "active"]
        chosen = active[-1] if active else value[-1]
        return _name(chosen)
    return None


def _team(key: str, fields: Mapping[str, Any], ctx: MappingContext) -> str | None:
    """A configured team field wins, then components, then boards, then the project."""
    if ctx.fields.team:
        value = fields.get(ctx.fields.team)
        team = _name(value) or _name(value, "value")
        if team:
            return team
    for component in fields.get("components") or []:
        if _name(component) in ctx.component_teams:
            return ctx.component_teams[_name(component) or ""]
    if key in ctx.issue_teams:
        return ctx.issue_teams[key]
    project = _name(fields.get("project"), "key")
    return ctx.project_teams.get(project or "")


# Fields the connector asks the search API for and Jira always returns. Missing from a
# pulled issue, or of another type anywhere, they mean the API changed under us (or a
# proxy rewrote it): folding a guess would corrupt lifecycles quietly, so it is rejected.
REQUIRED = {"created": str, "status": dict, "project": dict, "issuetype": dict}


def check_shape(issue: Mapping[str, Any], *, complete: bool) -> Mapping[str, Any]:
    """The issue's fields, or ``ValueError`` naming what is off. ``complete``: every
    field in ``REQUIRED`` must be there (a pulled issue), not just well-typed."""
    if not isinstance(issue.get("key"), str):
        raise ValueError("key is missing")
    fields = issue.get("fields")
    if not isinstance(fields, Mapping):
        raise ValueError("fields is missing")
    for name, kind in REQUIRED.items():
        if name not in fields:
            if complete:
                raise ValueError(f"fields.{name} is missing")
            continue
        if not isinstance(fields[name], kind):
            expected = "an object" if kind is dict else "a string"
            raise ValueError(f"fields.{name} should be {expected}, not {fields[name]!r}")
    return fields


def snapshot(issue: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """The issue as Jira shows it now, in the canonical work item shape."""
    fields = check_shape(issue, complete=False)
    known = set(CORE_FIELDS) | {
        f
        for f in (ctx.fields.story_points, ctx.fields.epic_link, ctx.fields.sprint, ctx.fields.team)
        if f
    }
    points = fields.get(ctx.fields.story_points) if ctx.fields.story_points else None
    # an estimate we cannot read is unknown, not "none": the folds keep the last one
    estimate_unknown = not ctx.estimates_readable or (
        ctx.fields.story_points is not None and ctx.fields.story_points not in fields
    )
    parent = _name(fields.get("parent"), "key") or (
        fields.get(ctx.fields.epic_link) if ctx.fields.epic_link else None
    )
    status = fields.get("status")
    return {
        "title": fields.get("summary"),
        "item_type": _name(fields.get("issuetype")),
        "project": _name(fields.get("project"), "key"),
        "status": _name(status),
        "status_category": category_of(status),
        "assignee": _person(fields.get("assignee")),
        "reporter": _person(fields.get("reporter")),
        "priority": _name(fields.get("priority")),
        "labels": [str(x) for x in fields.get("labels") or []],
        "components": [c for c in (_name(x) for x in fields.get("components") or []) if c],
        "fix_versions": [v for v in (_name(x) for x in fields.get("fixVersions") or []) if v],
        "sprint": _sprint(fields.get(ctx.fields.sprint)) if ctx.fields.sprint else None,
        "parent": parent if isinstance(parent, str) else None,
        "resolution": _name(fields.get("resolution")),
        "due_date": fields.get("duedate"),
        "estimate": float(points) if isinstance(points, int | float) else None,
        "team": _team(issue["key"], fields, ctx),
        "created_at": parse_utc(fields["created"]).isoformat()
        if isinstance(fields.get("created"), str)
        else None,
        "url": f"{ctx.base_url.rstrip('/')}/browse/{issue['key']}",
        "unknown_fields": ["estimate"] if estimate_unknown else [],
        "attributes": {
            k: v
            for k, v in fields.items()
            if k.startswith("customfield_") and k not in known and v not in (None, [], {}, "")
        },
    }


def _histories(issue: Mapping[str, Any]) -> list[dict[str, Any]]:
    histories = list((issue.get("changelog") or {}).get("histories") or [])
    return sorted(histories, key=lambda h: (parse_utc(h["created"]), str(h.get("id"))))


def sprint_key(sprint_id: Any) -> str:
    return f"jira-sprint-{sprint_id}"


_LEGACY_SPRINT = re.compile(r"\bid=(\d+)")


def _sprint_id(value: Any) -> str | None:
    """A Sprint field entry: an object (Cloud) or Data Center's ``...Sprint@1a[id=3,...]``."""
    if isinstance(value, Mapping):
        return str(value["id"]) if value.get("id") is not None else None
    match = _LEGACY_SPRINT.search(str(value))
    return match.group(1) if match else None


def _sprint_ids(text: Any) -> list[str]:
    """A changelog's ``from``/``to`` for the Sprint field: ``"12, 13"``."""
    return [part.strip() for part in str(text or "").split(",") if part.strip()]


def _is_sprint(item: Mapping[str, Any], ctx: MappingContext) -> bool:
    return str(item.get("field")) == "Sprint" or (
        ctx.fields.sprint is not None and item.get("fieldId") == ctx.fields.sprint
    )


def map_issue(
    issue: Mapping[str, Any],
    ctx: MappingContext,
    histories: list[dict[str, Any]] | None = None,
    *,
    full_history: bool = True,
) -> list[Event]:
    """All events one issue implies: created, each change in its history, the current state.

    With the issue's whole history (a pull), nothing is claimed before its time: with no
    status change in it, the issue's status is known only as of its last update, and its
    sprints at creation are today's sprints with every later change undone. A webhook
    carries one change, so it claims neither.
    """
    key = issue["key"]
    fields = issue.get("fields") or {}
    current = snapshot(issue, ctx)
    histories = _histories(issue) if histories is None else histories
    events: list[Event] = []
    items = [(h, i) for h in histories for i in h.get("items") or []]
    first_status = next((i for _, i in items if i.get("field") == "status"), None)
    as_of_update = full_history and first_status is None and isinstance(fields.get("updated"), str)
    if isinstance(fields.get("created"), str):
        initial = dict(current)
        if first_status is not None:
            initial["status"] = first_status.get("fromString")
            initial["status_category"] = ctx.category(first_status.get("fromString"))
        elif as_of_update:
            initial["status"] = initial["status_category"] = None
        created = parse_utc(fields["created"])
        events.append(
            ctx.make("work_item.created", key, f"{issue.get('id', key)}:created", created, initial)
        )
        if full_history and ctx.fields.sprint:
            members = [i for i in (_sprint_id(s) for s in fields.get(ctx.fields.sprint) or []) if i]
            for _, item in reversed([(h, i) for h, i in items if _is_sprint(i, ctx)]):
                members = _sprint_ids(item.get("from"))  # undo it: what it was before
            if members:
                events.append(
                    ctx.make(
                        "work_item.sprint_changed",
                        key,
                        f"{issue.get('id', key)}:created:sprint",
                        created,
                        {"added": [sprint_key(m) for m in members], "removed": []},
                    )
                )
    for history in histories:
        at = parse_utc(history["created"])
        actor = _person(history.get("author"))
        for item in history.get("items") or []:
            event = _change(key, history, item, at, actor, ctx)
            if event is not None:
                events.append(event)
    if as_of_update and current.get("status"):
        events.append(
            ctx.make(
                "work_item.status_changed",
                key,
                f"as-of:{fields['updated']}",
                parse_utc(fields["updated"]),
                {
                    "from_status": None,
                    "to_status": current["status"],
                    "to_category": current["status_category"] or "todo",
                },
            )
        )
    worklog = fields.get("worklog") or {}
    # Jira nests them ({"worklogs": [...]}); Atlassian's own OpenAPI example lists them bare.
    for log in worklog if isinstance(worklog, list) else worklog.get("worklogs") or []:
        if log.get("started") and log.get("id"):
            events.append(
                ctx.make(
                    "work_item.worklog_added",
                    key,
                    f"worklog:{log['id']}",
                    parse_utc(log.get("updated") or log["started"]),
                    {
                        "worklog_id": str(log["id"]),
                        "author": _person(log.get("author")),
                        "started_at": parse_utc(log["started"]).isoformat(),
                        "seconds_spent": int(log.get("timeSpentSeconds") or 0),
                    },
                )
            )
    if isinstance(fields.get("updated"), str):
        events.append(
            ctx.make(
                "work_item.updated",
                key,
                f"updated:{fields['updated']}",
                parse_utc(fields["updated"]),
                current,
            )
        )
    return events


def _change(
    key: str,
    history: Mapping[str, Any],
    item: Mapping[str, Any],
    at: datetime,
    actor: str | None,
    ctx: MappingContext,
) -> Event | None:
    name = str(item.get("field") or "")
    change = f"{history.get('id')}:{item.get('fieldId') or name}"
    if name == "status":
        old, new = item.get("fromString"), item.get("toString")
        return ctx.make(
            "work_item.status_changed",
            key,
            change,
            at,
            {
                "from_status": old,
                "to_status": new or "",
                "actor": actor,
                "from_category": ctx.category(old) if old else None,
                "to_category": ctx.category(new),
            },
        )
    if _is_sprint(item, ctx):
        before, after = _sprint_ids(item.get("from")), _sprint_ids(item.get("to"))
        added = [sprint_key(i) for i in after if i not in before]
        removed = [sprint_key(i) for i in before if i not in after]
        if not added and not removed:
            return None
        return ctx.make(
            "work_item.sprint_changed", key, change, at, {"added": added, "removed": removed}
        )
    if name == "assignee":
        return ctx.make(
            "work_item.assigned",
            key,
            change,
            at,
            {"from_assignee": item.get("from"), "to_assignee": item.get("to"), "actor": actor},
        )
    if (
        name.lower() in ("story points", "story point estimate")
        or item.get("fieldId") == ctx.fields.story_points
    ):
        return ctx.make(
            "work_item.estimated",
            key,
            change,
            at,
            {
                "from_estimate": _number(item.get("fromString")),
                "to_estimate": _number(item.get("toString")),
            },
        )
    if name in ("IssueParentAssociation", "Parent", "Epic Link"):
        target = item.get("toString") or item.get("fromString")
        if not target:
            return None
        return ctx.make(
            "work_item.linked",
            key,
            change,
            at,
            {
                "relation": "parent",
                "target": {"kind": "work_item", "key": target},
                "removed": not item.get("toString"),
            },
        )
    return None


def _number(text: Any) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except (TypeError, ValueError):
        return None
