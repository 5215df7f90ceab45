"""The canonical event vocabulary: what every connector emits and every projection folds.

Events are immutable facts named in the past tense. Each carries an envelope (who said
it, about what, when) and a typed payload. ``event_id`` is derived from the source's own
identity for the change, so pulling the same change twice, or receiving it by pull and by
webhook, yields the same id and the folds can ignore the repeat.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    model_validator,
)

from core.request_text import REQUEST_TEXT_CAP

__all__ = [
    "SCHEMA_VERSION",
    "Event",
    "EVENT_ADAPTER",
    "EVENT_TYPES",
    "EntityKind",
    "EntityRef",
    "Source",
    "StatusCategory",
    "iso",
    "parse_utc",
    "make_event_id",
    "utcnow",
    "WorkItemFields",
    "WorkItemCreated",
    "WorkItemUpdated",
    "WorkItemStatusChanged",
    "WorkItemAssigned",
    "WorkItemEstimated",
    "WorkItemLinked",
    "WorkItemDeleted",
    "WorklogAdded",
    "CustomerAccountUpserted",
    "DealUpserted",
    "DealStageChanged",
    "DealLinked",
    "CustomerRequestOpened",
    "CustomerRequestStatusChanged",
    "CustomerRequestEscalated",
    "CustomerRequestLinked",
    "CustomerRequestClosed",
    "RoadmapItemFields",
    "RoadmapItemPlanned",
    "RoadmapItemChanged",
    "RoadmapItemRemoved",
    "ThemeEdit",
    "ThemeEdited",
    "TeamDefined",
    "InvestmentCategory",
    "InvestmentPolicy",
    "InvestmentDefined",
    "WorkItemSprintChanged",
    "SprintUpserted",
]

SCHEMA_VERSION = 3
_ID_NAMESPACE = uuid.UUID("6b1f4a52-1d7e-4a8e-9f55-2b9f0d2c7a10")

EntityKind = Literal[
    "work_item",
    "roadmap_item",
    "customer_account",
    "deal",
    "customer_request",
    "team",
    "sprint",
    "theme",
    "investment",
]
StatusCategory = Literal["todo", "in_progress", "done"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width UTC text, so stored timestamps also sort correctly as strings."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> datetime:
    """Any ISO 8601 time with a zone (``Z``, ``+00:00``, ``-0700``) as aware UTC."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Every time in an event: zone required, held in UTC, written in one fixed-width format.
UtcDatetime = Annotated[
    AwareDatetime, AfterValidator(_to_utc), PlainSerializer(iso, return_type=str, when_used="json")
]


def make_event_id(connector: str, kind: str, key: str, change_id: str, type_: str) -> str:
    """The same source change always maps to the same id, whichever path delivered it."""
    return str(uuid.uuid5(_ID_NAMESPACE, "\x1f".join((connector, kind, key, change_id, type_))))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Frozen):
    """Which system said it, through which configured connector."""

    system: str = Field(min_length=1, examples=["jira", "hubspot", "roadmap"])
    connector: str = Field(min_length=1, examples=["jira-main"])


class EntityRef(_Frozen):
    kind: EntityKind
    key: str = Field(min_length=1)

    @property
    def stream_key(self) -> str:
        """The Kafka message key: all changes to one entity share a partition, in order."""
        return f"{self.kind}/{self.key}"


class _Payload(_Frozen):
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Source fields with no canonical home."
    )


class _Envelope(_Frozen):
    event_id: str = Field(min_length=1)
    schema_version: int = SCHEMA_VERSION
    source: Source
    entity: EntityRef
    occurred_at: UtcDatetime = Field(description="When it happened in the source.")
    observed_at: UtcDatetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _entity_matches_type(self) -> _Envelope:
        type_ = str(getattr(self, "type", ""))
        kind = type_.partition(".")[0]
        if kind and kind != self.entity.kind:
            raise ValueError(f"a {type_} event must be about a {kind}, not a {self.entity.kind}")
        return self


# --- work items -------------------------------------------------------------------


class WorkItemFields(_Payload):
    """A full snapshot of a work item as the source shows it now."""

    title: str | None = None
    item_type: str | None = None
    project: str | None = None
    status: str | None = None
    status_category: StatusCategory | None = None
    assignee: str | None = None
    reporter: str | None = None
    priority: str | None = None
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    sprint: str | None = None
    parent: str | None = None
    roadmap_item: str | None = None
    resolution: str | None = None
    due_date: date | None = None
    estimate: float | None = None
    team: str | None = None
    created_at: UtcDatetime | None = None
    url: str | None = None
    unknown_fields: tuple[str, ...] = Field(
        default=(),
        description=(
            "Fields the source could not report in this snapshot (a custom field that "
            "vanished or changed type): the folds keep what they knew instead of blanking it."
        ),
    )


class WorkItemCreated(_Envelope):
    type: Literal["work_item.created"] = "work_item.created"
    payload: WorkItemFields


class WorkItemUpdated(_Envelope):
    type: Literal["work_item.updated"] = "work_item.updated"
    payload: WorkItemFields


class StatusChange(_Payload):
    from_status: str | None = None
    to_status: str
    from_category: StatusCategory | None = None
    to_category: StatusCategory
    actor: str | None = None


class WorkItemStatusChanged(_Envelope):
    type: Literal["work_item.status_changed"] = "work_item.status_changed"
    payload: StatusChange


class Assignment(_Payload):
    from_assignee: str | None = None
    to_assignee: str | None = None
    actor: str | None = None


class WorkItemAssigned(_Envelope):
    type: Literal["work_item.assigned"] = "work_item.assigned"
    payload: Assignment


class Estimate(_Payload):
    from_estimate: float | None = None
    to_estimate: float | None = None
    unit: Literal["points", "hours"] = "points"


class WorkItemEstimated(_Envelope):
    type: Literal["work_item.estimated"] = "work_item.estimated"
    payload: Estimate


class Link(_Payload):
    """A relation from the event's entity to another; ``removed`` undoes it."""

    relation: str = Field(min_length=1, examples=["parent", "roadmap_item", "blocks"])
    target: EntityRef
    removed: bool = False


class WorkItemLinked(_Envelope):
    type: Literal["work_item.linked"] = "work_item.linked"
    payload: Link


class Deletion(_Payload):
    reason: str | None = None


class SprintMembership(_Payload):
    """Sprints the item joined and left in one change, as the source's changelog says."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


class WorkItemSprintChanged(_Envelope):
    type: Literal["work_item.sprint_changed"] = "work_item.sprint_changed"
    payload: SprintMembership


class WorkItemDeleted(_Envelope):
    type: Literal["work_item.deleted"] = "work_item.deleted"
    payload: Deletion


class Worklog(_Payload):
    worklog_id: str
    author: str | None = None
    started_at: UtcDatetime
    seconds_spent: int = Field(ge=0)


class WorklogAdded(_Envelope):
    type: Literal["work_item.worklog_added"] = "work_item.worklog_added"
    payload: Worklog


# --- customers, deals and requests ------------------------------------------------


class Account(_Payload):
    name: str
    tier: str | None = None
    arr: float | None = Field(default=None, description="Annual recurring revenue.")
    currency: str | None = None
    domain: str | None = None


class CustomerAccountUpserted(_Envelope):
    type: Literal["customer_account.upserted"] = "customer_account.upserted"
    payload: Account


class Deal(_Payload):
    name: str | None = None
    account: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    amount: float | None = None
    currency: str | None = None
    close_date: date | None = None
    is_closed: bool = False
    is_won: bool = False


class DealUpserted(_Envelope):
    type: Literal["deal.upserted"] = "deal.upserted"
    payload: Deal


class StageChange(_Payload):
    pipeline: str | None = None
    from_stage: str | None = None
    to_stage: str


class DealStageChanged(_Envelope):
    type: Literal["deal.stage_changed"] = "deal.stage_changed"
    payload: StageChange


class DealLinked(_Envelope):
    type: Literal["deal.linked"] = "deal.linked"
    payload: Link


class DealDeleted(_Envelope):
    """Deleted or archived in the CRM; the search APIs stop returning it."""

    type: Literal["deal.deleted"] = "deal.deleted"
    payload: Deletion


class CustomerAccountDeleted(_Envelope):
    type: Literal["customer_account.deleted"] = "customer_account.deleted"
    payload: Deletion


class Request(_Payload):
    title: str | None = None
    text: str | None = Field(
        default=None,
        max_length=REQUEST_TEXT_CAP,
        description="What the customer wrote (subject and first message): plain text, "
        "personal data replaced by placeholders (core.request_text). Since schema v3.",
    )
    account: str | None = None
    priority: str | None = None
    status: str | None = None
    channel: str | None = None
    team: str | None = None
    url: str | None = None


class CustomerRequestOpened(_Envelope):
    type: Literal["customer_request.opened"] = "customer_request.opened"
    payload: Request


class RequestStatusChange(_Payload):
    from_status: str | None = None
    to_status: str


class CustomerRequestStatusChanged(_Envelope):
    type: Literal["customer_request.status_changed"] = "customer_request.status_changed"
    payload: RequestStatusChange


class Escalation(_Payload):
    team: str


class CustomerRequestEscalated(_Envelope):
    type: Literal["customer_request.escalated"] = "customer_request.escalated"
    payload: Escalation


class CustomerRequestLinked(_Envelope):
    type: Literal["customer_request.linked"] = "customer_request.linked"
    payload: Link


class Closure(_Payload):
    resolution: str | None = None


class CustomerRequestClosed(_Envelope):
    type: Literal["customer_request.closed"] = "customer_request.closed"
    payload: Closure


# --- roadmap and teams ------------------------------------------------------------


class RoadmapItemFields(_Payload):
    """A roadmap item as planned; every change re-states the whole plan."""

    title: str
    teams: tuple[str, ...] = ()
    planned_start: date | None = None
    target_date: date | None = None
    committed_at: UtcDatetime | None = None
    priority: str | None = None
    epics: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    jql: str | None = None
    planned_allocation: dict[str, float] = Field(
        default_factory=dict, description="Team -> planned FTE, in any quarter."
    )
    allocation_by_quarter: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Quarter (2026-Q4) -> team -> planned FTE; overrides planned_allocation.",
    )
    budget: float | None = None
    cancelled: bool = False


class RoadmapItemPlanned(_Envelope):
    type: Literal["roadmap_item.planned"] = "roadmap_item.planned"
    payload: RoadmapItemFields


class RoadmapItemChanged(_Envelope):
    type: Literal["roadmap_item.changed"] = "roadmap_item.changed"
    payload: RoadmapItemFields


class RoadmapItemRemoved(_Envelope):
    type: Literal["roadmap_item.removed"] = "roadmap_item.removed"
    payload: Deletion


class ThemeEdit(_Payload):
    """What a person decided about a feedback theme (themes themselves are computed)."""

    action: Literal["rename", "merge", "split", "link", "unlink"]
    name: str | None = Field(default=None, min_length=1, max_length=200)
    into: str | None = Field(default=None, min_length=1, description="merge: the theme kept.")
    requests: tuple[str, ...] = Field(default=(), description="split: the requests that leave.")
    roadmap_item: str | None = Field(default=None, min_length=1)
    by: str | None = None


class ThemeEdited(_Envelope):
    type: Literal["theme.edited"] = "theme.edited"
    payload: ThemeEdit


class Team(_Payload):
    name: str
    capacity_fte: float = Field(default=0.0, ge=0)
    wip_limit: int | None = Field(default=None, ge=0)
    timezone: str = "UTC"
    cost_rate: float | None = Field(default=None, ge=0, description="Cost per FTE-week.")
    members: tuple[str, ...] = ()
    investment_target: dict[str, float] = Field(
        default_factory=dict, description="Investment category -> target share of effort, 0-1."
    )


class TeamDefined(_Envelope):
    type: Literal["team.defined"] = "team.defined"
    payload: Team


class InvestmentCategory(_Payload):
    """One category of work, and the rule that puts work in it (any listed part matches)."""

    name: str = Field(min_length=1, max_length=80)
    item_types: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    epics: tuple[str, ...] = ()
    jql: str | None = None
    roadmap: bool = Field(default=False, description="Matches work that serves a roadmap item.")


class InvestmentPolicy(_Payload):
    """How all work divides into mutually exclusive categories: rules in order, first match
    wins, a child inherits its parent's category, and ``default`` takes what none match."""

    categories: tuple[InvestmentCategory, ...]
    default: str = Field(min_length=1, max_length=80)


class InvestmentDefined(_Envelope):
    type: Literal["investment.defined"] = "investment.defined"
    payload: InvestmentPolicy


class SprintFields(_Payload):
    """A sprint as its board shows it now; the dates are the source's, not ours."""

    name: str
    board: str | None = None
    state: Literal["future", "active", "closed"]
    start_at: UtcDatetime | None = None
    end_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None
    goal: str | None = None


class SprintUpserted(_Envelope):
    type: Literal["sprint.upserted"] = "sprint.upserted"
    payload: SprintFields


Event = Annotated[
    WorkItemCreated
    | WorkItemUpdated
    | WorkItemStatusChanged
    | WorkItemAssigned
    | WorkItemEstimated
    | WorkItemLinked
    | WorkItemDeleted
    | WorklogAdded
    | CustomerAccountUpserted
    | DealUpserted
    | DealStageChanged
    | DealLinked
    | DealDeleted
    | CustomerAccountDeleted
    | CustomerRequestOpened
    | CustomerRequestStatusChanged
    | CustomerRequestEscalated
    | CustomerRequestLinked
    | CustomerRequestClosed
    | RoadmapItemPlanned
    | RoadmapItemChanged
    | RoadmapItemRemoved
    | TeamDefined
    | InvestmentDefined
    | WorkItemSprintChanged
    | SprintUpserted
    | ThemeEdited,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: dict[str, type[_Envelope]] = {
    cls.model_fields["type"].default: cls for cls in _Envelope.__subclasses__()
}
