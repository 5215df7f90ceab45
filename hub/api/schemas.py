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
    "ConnectorConfig",
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
