"""Response and request body models of the API, for the OpenAPI document.

Views return plain dicts built by the projections; these models describe the fields a
client can rely on (more may be present: ``extra="allow"``). Routes name them in their
declarations and the document takes their JSON schemas from pydantic.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from connectors.registry import TYPES

__all__ = [
    "AgingWipPage",
    "ConnectorConfig",
    "CycleTimes",
    "InvestmentPage",
    "RequestLeadTimes",
    "SprintPage",
    "SprintReport",
    "TeamInvestment",
    "ThroughputPage",
    "Velocity",
    "PlannedRoadmap",
    "Error",
    "RequestPage",
    "RoadmapItem",
    "RoadmapItemPage",
    "TeamPage",
    "TeamResources",
    "WorkItem",
    "WorkItemPage",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Open):
    code: str
    message: str
    fields: list[dict[str, str]] | None = None


class Error(_Open):
    """Every error: ``{"error": {"code", "message", "fields"?}}``."""

    error: ErrorDetail


class WorkItem(_Open):
    key: str
    stage: str | None
    title: str | None = None
    status: str | None = None
    team: str | None = None
    roadmap_item: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    done_at: str | None = None
    lead_time_seconds: float | None = None
    cycle_time_seconds: float | None = None
    blocked_seconds: float | None = None
    flow_efficiency: float | None = None
    reopen_count: int | None = None
    timeline: list[dict[str, Any]] | None = None


class WorkItemPage(_Open):
    items: list[WorkItem]
    next_cursor: str | None


class RoadmapItem(_Open):
    id: str
    stage: str | None
    progress: dict[str, Any]
    title: str | None = None
    scope: dict[str, Any] | None = None
    demand: dict[str, Any] | None = None


class RoadmapItemPage(_Open):
    items: list[RoadmapItem]
    next_cursor: str | None


class Request(_Open):
    key: str
    title: str | None = None
    text: str | None = Field(
        default=None, description="What the customer wrote, scrubbed of personal data."
    )
    stage: str | None
    account: str | None = None
    arr: float | None = None
    opened_at: str | None = None
    delivered_at: str | None = None


class RequestPage(_Open):
    items: list[Request]
    next_cursor: str | None


class Team(_Open):
    team: str
    capacity_fte: float | None = None
    wip: int | None = None


class TeamPage(_Open):
    items: list[Team]
    next_cursor: str | None


class TeamResources(_Open):
    team: str
    weeks: list[dict[str, Any]]


class SprintNumbers(_Open):
    committed: int
    committed_points: float
    added: int
    removed: int
    completed: int
    completed_committed: int
    carried_over: int
    completed_outside: int
    planning_accuracy: float | None = Field(
        description="Completed committed items / committed items (LinearB)."
    )
    capacity_accuracy: float | None = Field(
        description="All completed items, unplanned additions too / committed items."
    )
    velocity_points: float


class Sprint(_Open):
    key: str
    name: str | None
    state: str = Field(json_schema_extra={"enum": ["future", "active", "closed"]})
    team: str | None
    start_at: str | None
    end_at: str | None
    completed_at: str | None
    numbers: SprintNumbers | None


class SprintPage(_Open):
    items: list[Sprint]
    next_cursor: str | None


class SprintReport(Sprint):
    """Jira's Sprint Report rebuilt from the log; ``items`` names the work in each group."""

    items: dict[str, Any] | None = None
    planned: list[str] | None = None


class Velocity(_Open):
    team: str
    sprints: list[dict[str, Any]]
    mean_velocity_points: float | None
    mean_planning_accuracy: float | None
    mean_capacity_accuracy: float | None


class Distribution(_Open):
    """Nearest-rank percentiles of durations, in days."""

    count: int
    p50_days: float | None
    p70_days: float | None
    p85_days: float | None
    p95_days: float | None


class CycleTimes(_Open):
    period: str
    overall: Distribution
    by_team: dict[str, Distribution]
    by_type: dict[str, Distribution]
    by_period: list[dict[str, Any]]


class ThroughputWeek(_Open):
    week: str
    throughput: int


class ThroughputPage(_Open):
    items: list[ThroughputWeek]
    next_cursor: str | None


class AgingItem(_Open):
    key: str
    team: str | None
    stage: str
    age_days: float
    team_p85_days: float | None
    band: str
    over_p85: bool


class AgingWipPage(_Open):
    items: list[AgingItem]
    next_cursor: str | None


class RequestLeadTimes(_Open):
    overall: Distribution
    by_team: dict[str, Distribution]


class TeamInvestment(_Open):
    team: str
    weeks: list[dict[str, Any]]


class InvestmentRow(_Open):
    team: str
    category: str
    effort_fte_weeks: float
    share: float | None
    target_share: float | None
    gap: float | None


class InvestmentPage(_Open):
    items: list[InvestmentRow]
    next_cursor: str | None


class PlannedRoadmap(_Open):
    """The roadmap as the log holds it: the document's teams and items, each with when it
    last changed (``GET /api/v1/roadmap``; ``PUT`` takes the document itself)."""

    teams: dict[str, dict[str, Any]]
    items: list[dict[str, Any]]


class ConnectorConfig(_Open):
    """A connector's configuration; ``settings`` are the type's own (``/connector-types``)."""

    type: str = Field(json_schema_extra={"enum": list[JsonValue](sorted(TYPES))})
    settings: dict[str, Any]
    name: str | None = Field(default=None, min_length=1)
    poll_interval: str | None = Field(default=None, examples=["60s"])


class Theme(_Open):
    id: str
    name: str
    terms: list[str]
    requests: int
    open: int
    account_count: int
    arr: float
    growth: int
    first_seen: str | None = None
    last_seen: str | None = None


class ThemePage(_Open):
    items: list[Theme]
    next_cursor: str | None
    built_at: str | None = None


class ThemeDetail(Theme):
    accounts: list[str]
    trend: list[dict[str, JsonValue]]
    quotes: list[str]
    request_keys: list[str]
    suggested_roadmap_items: list[dict[str, JsonValue]]


class ThemeRename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class ThemeMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: str = Field(min_length=1, description="The theme that is kept.")


class ThemeSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requests: list[str] = Field(min_length=1, description="Requests that leave for a new theme.")


class ThemeEditDone(_Open):
    theme: str
    action: str
    event_id: str
