"""``roadmap.yaml``: the plan product ops writes, checked, and turned into roadmap events.

The file (or the same document through ``PUT /api/v1/roadmap``) is desired state. Applying
it compares each team and item with the plan as the log holds it and emits an event only
for what changed, so the roadmap's own history stays in ``hub.roadmap`` and drift is judged
against the plan as it stood at any moment. Applying the same document twice emits nothing.

```yaml
investment:                              # optional; this is the default policy
  categories:                            # first match wins; children inherit parents'
    - {name: roadmap, roadmap: true}
    - {name: bugs, item_types: [Bug, Defect, Incident]}
    - {name: support, labels: [support, customer-support]}
    - {name: tech-debt, labels: [tech-debt, techdebt, refactoring]}
  default: maintenance                   # whatever no rule matches
teams:
  payments: {name: Payments, capacity_fte: 5, wip_limit: 8, timezone: Europe/Berlin,
             cost_rate: 4000, members: [ana, ben],
             investment_target: {roadmap: 60%, bugs: 15%, maintenance: 25%}}
items:
  - id: checkout-v2
    title: Checkout v2
    teams: [payments]
    planned_start: 2026-10-01
    target_date: 2026-12-15
    committed_at: 2026-09-20
    priority: high
    budget: 120000
    allocation: {payments: 2}            # FTE; or "40%"; or {2026-Q4: 2, 2027-Q1: "25%"}
    links: {epics: [PAY-1], keys: [], labels: [checkout], jql: "project = PAY"}
```
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.events import (
    Deletion,
    EntityRef,
    Event,
    InvestmentCategory,
    InvestmentDefined,
    InvestmentPolicy,
    RoadmapItemChanged,
    RoadmapItemFields,
    RoadmapItemPlanned,
    RoadmapItemRemoved,
    Source,
    Team,
    TeamDefined,
    iso,
    make_event_id,
)
from core.validation import FieldProblem, InvalidConfigError, problems_from
from projections.investment import DEFAULT_POLICY, POLICY_KEY, category_names, policy_at
from projections.jql import JqlError, compile_jql
from projections.roadmap import plan_at
from projections.rollups import Entities, WorkIndex

__all__ = [
    "RoadmapDocument",
    "parse_roadmap",
    "load_roadmap_text",
    "roadmap_changes",
    "link_warnings",
    "document_at",
    "ROADMAP_SOURCE",
]

ROADMAP_SOURCE = Source(system="roadmap", connector="roadmap")
_QUARTER = re.compile(r"^\d{4}-Q[1-4]$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
Amount = float | str  # FTE, or "40%" of the team's capacity
Share = float | str  # a percentage: 60 or "60%"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamSpec(_Spec):
    name: str | None = None
    members: list[str] = Field(default_factory=list)
    capacity_fte: float = Field(default=0.0, ge=0)
    wip_limit: int | None = Field(default=None, ge=0)
    timezone: str = "UTC"
    cost_rate: float | None = Field(default=None, ge=0, description="Cost per FTE-week.")
    investment_target: dict[str, Share] = Field(
        default_factory=dict, description="Investment category -> target share, like 60%."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone like Europe/Berlin") from None
        return value


def _checked_jql(value: str | None) -> str | None:
    if value:
        try:
            compile_jql(value)
        except JqlError as exc:
            raise ValueError(f"JQL not supported: {exc}") from None
    return value


class CategorySpec(_Spec):
    name: str = Field(min_length=1, max_length=80)
    item_types: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    epics: list[str] = Field(default_factory=list)
    jql: str | None = None
    roadmap: bool = False

    _jql = field_validator("jql")(classmethod(lambda cls, v: _checked_jql(v)))


class InvestmentSpec(_Spec):
    categories: list[CategorySpec] = Field(min_length=1)
    default: str = Field(min_length=1, max_length=80)


class LinkSpec(_Spec):
    epics: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    jql: str | None = None

    _jql = field_validator("jql")(classmethod(lambda cls, v: _checked_jql(v)))


class ItemSpec(_Spec):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
    title: str = Field(min_length=1)
    teams: list[str] = Field(default_factory=list)
    priority: str | None = None
    planned_start: date | None = None
    target_date: date | None = None
    committed_at: datetime | date | None = None
    budget: float | None = Field(default=None, ge=0)
    allocation: dict[str, Amount | dict[str, Amount]] = Field(default_factory=dict)
    links: LinkSpec = Field(default_factory=LinkSpec)
    cancelled: bool = False


class RoadmapDocument(_Spec):
    investment: InvestmentSpec | None = None
    teams: dict[str, TeamSpec] = Field(default_factory=dict)
    items: list[ItemSpec] = Field(default_factory=list)


def _fte(amount: Amount, capacity: float, where: str, problems: list[FieldProblem]) -> float:
    if isinstance(amount, int | float):
        if amount < 0:
            problems.append(FieldProblem(where, "must not be negative"))
        return float(amount)
    match = _PERCENT.match(amount)
    if not match:
        problems.append(FieldProblem(where, f"{amount!r} is neither FTE nor a percentage"))
        return 0.0
    share = float(match.group(1))
    if share > 100:
        problems.append(FieldProblem(where, f"{amount} is more than the whole team"))
    if not capacity:
        problems.append(FieldProblem(where, "a percentage needs the team's capacity_fte"))
    return round(capacity * share / 100, 4)


def _policy(doc: RoadmapDocument) -> InvestmentPolicy:
    if doc.investment is None:
        return DEFAULT_POLICY
    return InvestmentPolicy(
        categories=tuple(
            InvestmentCategory.model_validate(c.model_dump()) for c in doc.investment.categories
        ),
        default=doc.investment.default,
    )


def _share(value: Share, where: str, problems: list[FieldProblem]) -> float:
    """A target share as a fraction: 60 and "60%" are both 0.6."""
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if not match:
            problems.append(FieldProblem(where, f"{value!r} is not a percentage like 60%"))
            return 0.0
        value = float(match.group(1))
    if not 0 <= value <= 100:
        problems.append(FieldProblem(where, "must be between 0% and 100%"))
    return round(float(value) / 100, 4)


def _investment_problems(doc: RoadmapDocument) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if doc.investment is not None:
        seen: set[str] = set()
        for n, category in enumerate(doc.investment.categories):
            if category.name in seen:
                where = f"investment.categories[{n}].name"
                problems.append(FieldProblem(where, f"{category.name!r} appears twice"))
            seen.add(category.name)
    known = category_names(_policy(doc))
    for team, spec in doc.teams.items():
        total = 0.0
        for name, value in spec.investment_target.items():
            where = f"teams.{team}.investment_target.{name}"
            if name not in known:
                problems.append(
                    FieldProblem(
                        where, f"unknown category {name!r}; categories: {', '.join(known)}"
                    )
                )
            total += _share(value, where, problems)
        if total > 1.0001:
            where = f"teams.{team}.investment_target"
            problems.append(FieldProblem(where, f"targets add up to {total:.0%}, over 100%"))
    return problems


def _semantic_problems(doc: RoadmapDocument) -> list[FieldProblem]:
    problems: list[FieldProblem] = _investment_problems(doc)
    seen: set[str] = set()
    for n, item in enumerate(doc.items):
        where = f"items[{n}]"
        if item.id in seen:
            problems.append(FieldProblem(f"{where}.id", f"{item.id!r} appears twice"))
        seen.add(item.id)
        for t, team in enumerate(item.teams):
            if team not in doc.teams:
                problems.append(
                    FieldProblem(
                        f"{where}.teams[{t}]",
                        f"unknown team {team!r}; defined: {', '.join(sorted(doc.teams)) or 'none'}",
                    )
                )
        if item.planned_start and item.target_date and item.target_date < item.planned_start:
            problems.append(FieldProblem(f"{where}.target_date", "is before planned_start"))
        for team, amount in item.allocation.items():
            if team not in item.teams:
                problems.append(
                    FieldProblem(f"{where}.allocation.{team}", "team is not among the item's teams")
                )
            if isinstance(amount, dict):
                for quarter in amount:
                    if not _QUARTER.match(quarter):
                        problems.append(
                            FieldProblem(
                                f"{where}.allocation.{team}.{quarter}",
                                "quarters are written like 2026-Q4",
                            )
                        )
    return problems


def parse_roadmap(raw: Any) -> RoadmapDocument:
    """Check a roadmap document; every problem, with its field path, in one error."""
    if not isinstance(raw, Mapping):
        raise InvalidConfigError([FieldProblem("", "a roadmap must be a mapping with teams/items")])
    try:
        doc = RoadmapDocument.model_validate(raw)
    except ValidationError as exc:
        raise InvalidConfigError(problems_from(exc)) from None
    problems = _semantic_problems(doc)
    _payloads(doc, problems)
    if problems:
        raise InvalidConfigError(problems)
    return doc


def load_roadmap_text(text: str) -> RoadmapDocument:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidConfigError([FieldProblem("", f"not YAML or JSON: {exc}")]) from None
    return parse_roadmap(raw)


def _committed(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), tzinfo=UTC)


def _payloads(
    doc: RoadmapDocument, problems: list[FieldProblem]
) -> tuple[dict[str, Team], dict[str, RoadmapItemFields]]:
    teams = {
        key: Team(
            name=spec.name or key,
            capacity_fte=spec.capacity_fte,
            wip_limit=spec.wip_limit,
            timezone=spec.timezone,
            cost_rate=spec.cost_rate,
            members=tuple(spec.members),
            investment_target={
                name: _share(value, "", []) for name, value in spec.investment_target.items()
            },
        )
        for key, spec in doc.teams.items()
    }
    items = {}
    for n, item in enumerate(doc.items):
        flat: dict[str, float] = {}
        by_quarter: dict[str, dict[str, float]] = {}
        for team, amount in item.allocation.items():
            capacity = doc.teams[team].capacity_fte if team in doc.teams else 0.0
            where = f"items[{n}].allocation.{team}"
            if isinstance(amount, dict):
                for quarter, share in amount.items():
                    fte = _fte(share, capacity, f"{where}.{quarter}", problems)
                    by_quarter.setdefault(quarter, {})[team] = fte
            else:
                flat[team] = _fte(amount, capacity, where, problems)
        items[item.id] = RoadmapItemFields(
            title=item.title,
            teams=tuple(item.teams),
            planned_start=item.planned_start,
            target_date=item.target_date,
            committed_at=_committed(item.committed_at),
            priority=item.priority,
            epics=tuple(item.links.epics),
            keys=tuple(item.links.keys),
            labels=tuple(item.links.labels),
            jql=item.links.jql,
            planned_allocation=flat,
            allocation_by_quarter=dict(sorted(by_quarter.items())),
            budget=item.budget,
            cancelled=item.cancelled,
        )
    return teams, items


def _same(current: Mapping[str, Any] | None, payload: BaseModel) -> bool:
    if current is None:
        return False
    return {k: v for k, v in current.items() if k != "at"} == payload.model_dump(mode="json")


def _event_id(kind: str, key: str, payload: BaseModel | None, version: int, type_: str) -> str:
    # The content and the version it follows: re-sending one change (a retried PUT) keeps
    # its id, while changing back to an earlier plan later is a new change.
    body = json.dumps(payload.model_dump(mode="json") if payload else None, sort_keys=True)
    change = f"{version}:{hashlib.sha256(body.encode()).hexdigest()[:16]}"
    return make_event_id(ROADMAP_SOURCE.connector, kind, key, change, type_)


def _event(
    cls: Any, key: str, payload: BaseModel, version: int, now: datetime, *, identity: bool
) -> Event:
    """A roadmap event; ``identity``: whether its content is part of its id (a removal's
    id depends only on the version it ends)."""
    type_ = cls.model_fields["type"].default
    kind = type_.partition(".")[0]
    return cls(
        event_id=_event_id(kind, key, payload if identity else None, version, type_),
        source=ROADMAP_SOURCE,
        entity=EntityRef(kind=kind, key=key),
        occurred_at=now,
        payload=payload,
    )


def roadmap_changes(doc: RoadmapDocument, entities: Entities, now: datetime) -> list[Event]:
    """The events that make the log's plan equal to ``doc``; none when it already is."""
    teams, items = _payloads(doc, [])
    events: list[Event] = []
    known_teams = entities.get("team", {})
    for key, payload in teams.items():
        state = known_teams.get(key)
        if state and _same(plan_at(state), payload):
            continue
        version = len(state["versions"]) if state else 0
        events.append(_event(TeamDefined, key, payload, version, now, identity=True))
    known_items = entities.get("roadmap_item", {})
    for key, fields in items.items():
        state = known_items.get(key)
        live = bool(state and not state.get("removed_at"))
        if state and live and _same(plan_at(state), fields):
            continue
        version = len(state["versions"]) if state else 0
        cls = RoadmapItemChanged if live else RoadmapItemPlanned
        events.append(_event(cls, key, fields, version, now, identity=True))
    policy = _policy(doc)
    known_policy = entities.get("investment", {}).get(POLICY_KEY)
    if policy != policy_at(entities) or (known_policy is None and doc.investment is not None):
        version = len(known_policy["versions"]) if known_policy else 0
        events.append(_event(InvestmentDefined, POLICY_KEY, policy, version, now, identity=True))
    removal = Deletion(reason="no longer in the roadmap document")
    for key, state in sorted(known_items.items()):
        if key in items or state.get("removed_at"):
            continue
        version = len(state["versions"])
        events.append(_event(RoadmapItemRemoved, key, removal, version, now, identity=False))
    return events


def link_warnings(doc: RoadmapDocument, entities: Entities, index: WorkIndex) -> list[FieldProblem]:
    """Links that point at nothing the hub knows: reported with the plan, not ignored."""
    warnings: list[FieldProblem] = []
    views = index.stable
    known_teams = set(entities.get("team", {})) | set(doc.teams)
    for n, item in enumerate(doc.items):
        where = f"items[{n}].links"
        for field in ("epics", "keys"):
            for k, key in enumerate(getattr(item.links, field)):
                if key not in views:
                    warnings.append(
                        FieldProblem(f"{where}.{field}[{k}]", f"no work item {key!r} is known")
                    )
        for k, label in enumerate(item.links.labels):
            if not any(label in v["labels"] for v in views.values()):
                warnings.append(
                    FieldProblem(f"{where}.labels[{k}]", f"no work item carries label {label!r}")
                )
        if item.links.jql:
            matches = compile_jql(item.links.jql)
            if not any(matches(v) for v in views.values()):
                warnings.append(FieldProblem(f"{where}.jql", "matches no known work item"))
    work_teams = {v["team"] for v in views.values() if v["team"]}
    for team in sorted(work_teams - known_teams):
        warnings.append(
            FieldProblem(
                "teams", f"work items name team {team!r}, which the roadmap does not define"
            )
        )
    return warnings


def document_at(entities: Entities, as_of: str | None = None) -> dict[str, Any]:
    """The roadmap as the log held it at ``as_of`` (default: now), in the document's shape."""
    teams = {}
    for key, state in sorted(entities.get("team", {}).items()):
        plan = plan_at(state, as_of)
        if plan:
            team = {k: v for k, v in plan.items() if k not in ("at", "attributes")}
            targets = team.get("investment_target") or {}  # back in the document's own form
            team["investment_target"] = {k: f"{v * 100:g}%" for k, v in targets.items()}
            teams[key] = team
    items = []
    for key, state in sorted(entities.get("roadmap_item", {}).items()):
        plan = plan_at(state, as_of)
        removed = state.get("removed_at")
        if not plan or (removed and (as_of is None or removed <= as_of)):
            continue
        items.append(
            {
                "id": key,
                "title": plan["title"],
                "teams": plan["teams"],
                "priority": plan["priority"],
                "planned_start": plan["planned_start"],
                "target_date": plan["target_date"],
                "committed_at": plan["committed_at"],
                "budget": plan["budget"],
                "allocation": {
                    **plan["planned_allocation"],
                    **_by_team(plan.get("allocation_by_quarter") or {}),
                },
                "links": {
                    "epics": plan["epics"],
                    "keys": plan["keys"],
                    "labels": plan["labels"],
                    "jql": plan["jql"],
                },
                "cancelled": plan["cancelled"],
                "changed_at": plan["at"],
            }
        )
    policy = policy_at(entities, as_of).model_dump(mode="json", exclude={"attributes"})
    for category in policy["categories"]:  # the document's shape: only what a person writes
        category.pop("attributes", None)
    return {
        "as_of": as_of or iso(datetime.now(UTC)),
        "investment": policy,
        "teams": teams,
        "items": items,
    }


def _by_team(by_quarter: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    teams: dict[str, dict[str, float]] = {}
    for quarter, shares in by_quarter.items():
        for team, fte in shares.items():
            teams.setdefault(team, {})[quarter] = fte
    return teams
