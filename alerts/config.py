"""``alerting.yaml``: drift rule thresholds, routes, receivers, inhibition, digests.

Shaped like Alertmanager's configuration (``route``, ``receivers`` with ``*_configs``,
``inhibit_rules``, matchers written ``team="payments"``), so people who run Alertmanager
read it at sight. Every rule has defaults; a file only says what differs. Secrets
(Slack URLs, SMTP passwords, bearer tokens) are references like ``${env:SLACK_URL}``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.matchers import Matcher, parse_matcher
from core.secrets import SecretRef
from core.validation import FieldProblem, InvalidConfigError, parse_duration, problems_from

__all__ = [
    "AlertingConfig",
    "RuleSettings",
    "Route",
    "Receiver",
    "InhibitRule",
    "DigestSchedule",
    "load_alerting",
    "parse_alerting",
]

Severity = Literal["info", "warning", "critical"]


def _duration(value: Any) -> timedelta:
    duration = parse_duration(value)
    if duration < timedelta(0):
        raise ValueError("must not be negative")
    return duration


def _matchers(value: Any) -> list[Matcher]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError('a list of matchers like team="payments"')
    return [v if isinstance(v, Matcher) else parse_matcher(v) for v in value]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# --- rules ------------------------------------------------------------------------


class RuleSettings(_Model):
    """What every rule has: on/off, how long it must hold, how loud it is, team overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    enabled: bool = True
    for_: timedelta = Field(default=timedelta(0), alias="for")
    keep_firing_for: timedelta = timedelta(0)
    severity: Severity = "warning"
    teams: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Team -> settings that differ for that team."
    )

    @field_validator("for_", "keep_firing_for", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> timedelta:
        return _duration(value)

    @model_validator(mode="after")
    def _overrides_valid(self) -> Self:
        for team, override in self.teams.items():
            if "teams" in override:
                raise ValueError(f"teams.{team}: overrides cannot nest teams")
            self.model_validate({**self._plain(), **override})
        return self

    def _plain(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(by_alias=True).items() if k != "teams"}

    def for_team(self, team: str | None) -> Self:
        """These settings with ``team``'s overrides applied."""
        override = self.teams.get(team or "")
        if not override:
            return self
        return self.model_validate({**self._plain(), **override})


class ForecastSlip(RuleSettings):
    for_: timedelta = Field(default=timedelta(hours=1), alias="for")
    grace_days: int = Field(default=7, ge=0)
    percentile: int = Field(default=85, ge=50, le=99)
    runs: int = Field(default=2000, ge=1000, le=100_000)
    history_weeks: int = Field(default=12, ge=2, le=52)
    seed: int | None = Field(default=None, description="Fix for reproducible forecasts.")


class PastDue(RuleSettings):
    severity: Severity = "critical"


class StartedLate(RuleSettings):
    grace_days: int = Field(default=7, ge=0)


class AllocationDrift(RuleSettings):
    points: float = Field(default=20.0, gt=0, le=100, description="Share points, 0-100.")
    weeks: int = Field(default=2, ge=1, le=12)


class UnplannedWork(RuleSettings):
    percent: float = Field(default=40.0, gt=0, le=100)
    weeks: int = Field(default=2, ge=1, le=12)


class ScopeCreep(RuleSettings):
    percent: float = Field(default=20.0, gt=0)


class Stalled(RuleSettings):
    days: float = Field(default=14.0, gt=0, description="Swarmia: idle at 4, at risk at 14.")


class WipOverLimit(RuleSettings):
    for_: timedelta = Field(default=timedelta(hours=4), alias="for")


class SupportOverload(RuleSettings):
    percent: float = Field(default=30.0, gt=0)
    fte_per_open_request: float = Field(
        default=0.1, gt=0, description="Effort one open escalated request takes, in FTE."
    )


class DemandAging(RuleSettings):
    days: float = Field(default=30.0, gt=0)
    min_arr: float = Field(default=100_000.0, ge=0)
    critical_priorities: list[str] = Field(default_factory=lambda: ["urgent", "critical"])


class OverBudget(RuleSettings):
    severity: Severity = "critical"


class EmergingTheme(RuleSettings):
    """A feedback theme whose requests in the last 7 days reach ``min_requests`` and
    ``factor`` times its weekly average of the four weeks before, or that brought
    ``min_new_arr`` of accounts new to it in those 7 days (0: off)."""

    for_: timedelta = Field(default=timedelta(minutes=30), alias="for")  # themes settle
    min_requests: int = Field(default=5, ge=1)
    factor: float = Field(default=2.0, gt=1)
    min_new_arr: float = Field(default=0.0, ge=0)


class UnaddressedDemand(RuleSettings):
    """A feedback theme with at least ``min_arr`` of accounts behind its open requests,
    linked to no roadmap item, for ``days`` since its first request. Held for an hour
    before it fires: a theme must survive the hub's periodic regrouping to be news."""

    for_: timedelta = Field(default=timedelta(hours=1), alias="for")
    min_arr: float = Field(default=1_000_000.0, ge=0)
    days: float = Field(default=14.0, ge=0)


class AgingWip(RuleSettings):
    """Items in progress longer than ``percentile`` of their team's cycle times over the
    last 12 weeks (with at least ``min_history`` finished items to judge by)."""

    for_: timedelta = Field(default=timedelta(hours=1), alias="for")
    percentile: Literal[50, 70, 85, 95] = 85
    min_history: int = Field(default=10, ge=1)


class SprintOvercommit(RuleSettings):
    """Planning accuracy below ``threshold`` in each of the team's last ``sprints``
    closed sprints: the team keeps committing to more than it finishes."""

    threshold: float = Field(default=0.7, gt=0, le=1)
    sprints: int = Field(default=2, ge=1, le=12)


class InvestmentDrift(RuleSettings):
    """A category's share of a team's effort off its target by more than ``tolerance``
    (share points: 0.1 is ten percentage points) in each of the last ``weeks`` weeks."""

    tolerance: float = Field(default=0.1, gt=0, lt=1)
    weeks: int = Field(default=3, ge=1, le=26)


class Rules(_Model):
    forecast_slip: ForecastSlip = ForecastSlip()
    past_due: PastDue = PastDue()
    started_late: StartedLate = StartedLate()
    allocation_drift: AllocationDrift = AllocationDrift()
    unplanned_work: UnplannedWork = UnplannedWork()
    scope_creep: ScopeCreep = ScopeCreep()
    stalled: Stalled = Stalled()
    wip_over_limit: WipOverLimit = WipOverLimit()
    support_overload: SupportOverload = SupportOverload()
    demand_aging: DemandAging = DemandAging()
    over_budget: OverBudget = OverBudget()
    emerging_theme: EmergingTheme = EmergingTheme()
    unaddressed_demand: UnaddressedDemand = UnaddressedDemand()
    aging_wip: AgingWip = AgingWip()
    sprint_overcommit: SprintOvercommit = SprintOvercommit()
    investment_drift: InvestmentDrift = InvestmentDrift()


# --- routing ----------------------------------------------------------------------


class Route(_Model):
    receiver: str | None = None
    group_by: list[str] | None = None
    matchers: list[Matcher] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    group_wait: timedelta | None = None
    group_interval: timedelta | None = None
    repeat_interval: timedelta | None = None
    routes: list[Route] = Field(default_factory=list)

    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, populate_by_name=True
    )

    _m = field_validator("matchers", mode="before")(classmethod(lambda cls, v: _matchers(v)))

    @field_validator("group_wait", "group_interval", "repeat_interval", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> timedelta | None:
        return None if value is None else _duration(value)


class SlackConfig(_Model):
    url: SecretRef = Field(description="Incoming webhook URL: a secret, so a reference.")
    channel: str | None = None
    send_resolved: bool = True


class WebhookConfig(_Model):
    url: str
    bearer_token: SecretRef | None = None
    send_resolved: bool = True
    max_alerts: int = Field(default=0, ge=0, description="0: all alerts.")


class EmailConfig(_Model):
    to: list[str] = Field(min_length=1)
    from_: str = Field(alias="from")
    smarthost: str = Field(description="host:port")
    username: str | None = None
    password: SecretRef | None = None
    starttls: bool = True
    ca_file: Path | None = Field(default=None, description="CA bundle for a private CA.")
    insecure_skip_verify: bool = Field(
        default=False, description="Accept any server certificate (test servers only)."
    )
    send_resolved: bool = True

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("smarthost")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{value!r} is not host:port")
        return value


class ConsoleConfig(_Model):
    send_resolved: bool = True


class Receiver(_Model):
    name: str = Field(min_length=1)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    console_configs: list[ConsoleConfig] = Field(default_factory=list)


class InhibitRule(_Model):
    source_matchers: list[Matcher] = Field(min_length=1)
    target_matchers: list[Matcher] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)

    _m = field_validator("source_matchers", "target_matchers", mode="before")(
        classmethod(lambda cls, v: _matchers(v))
    )


class DigestSchedule(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    receiver: str
    schedule: Literal["daily", "weekly"] = "weekly"
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    at: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"
    team: str | None = Field(default=None, description="One team's digest; none: leadership.")


class Delivery(_Model):
    timeout: timedelta = timedelta(seconds=10)
    backoff_initial: timedelta = timedelta(seconds=1)
    backoff_max: timedelta = timedelta(minutes=1)
    give_up_after: timedelta = timedelta(hours=24)

    @field_validator("*", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> timedelta:
        return _duration(value)


DEFAULT_ROUTE = Route(
    receiver="log",
    group_by=["alertname", "team"],
    group_wait=timedelta(seconds=30),
    group_interval=timedelta(minutes=5),
    repeat_interval=timedelta(hours=4),
)


class AlertingConfig(_Model):
    evaluation_interval: timedelta = timedelta(seconds=30)
    external_url: str | None = None
    resolved_retention: timedelta = timedelta(days=7)
    rules: Rules = Rules()
    route: Route = DEFAULT_ROUTE
    receivers: list[Receiver] = Field(
        default_factory=lambda: [Receiver(name="log", console_configs=[ConsoleConfig()])]
    )
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    digests: list[DigestSchedule] = Field(default_factory=list)
    delivery: Delivery = Delivery()

    @field_validator("evaluation_interval", "resolved_retention", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> timedelta:
        duration = _duration(value)
        if duration < timedelta(seconds=0.1):
            raise ValueError("must be at least 100ms")
        return duration

    @model_validator(mode="after")
    def _receivers_known(self) -> Self:
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError("receiver names must be unique")
        if self.route.receiver is None:
            raise ValueError("route.receiver: the top route needs a receiver")
        missing = {r for r in _route_receivers(self.route) if r not in names}
        missing |= {d.receiver for d in self.digests if d.receiver not in names}
        if missing:
            raise ValueError(f"unknown receiver(s) {', '.join(sorted(missing))}")
        return self

    def receiver(self, name: str) -> Receiver:
        return next(r for r in self.receivers if r.name == name)


def _route_receivers(route: Route) -> list[str]:
    names = [route.receiver] if route.receiver else []
    for child in route.routes:
        names.extend(_route_receivers(child))
    return names


def parse_alerting(raw: Any) -> AlertingConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidConfigError([FieldProblem("", "alerting config must be a mapping")])
    raw = dict(raw)
    route = raw.get("route")
    if isinstance(route, dict):
        # Unset timers and grouping inherit Alertmanager's defaults, like ours.
        base = DEFAULT_ROUTE.model_dump(by_alias=True, exclude={"receiver", "routes", "matchers"})
        raw["route"] = {**base, **route}
    try:
        return AlertingConfig.model_validate(raw)
    except ValidationError as exc:
        raise InvalidConfigError(problems_from(exc)) from None


def load_alerting(path: Path | None) -> AlertingConfig:
    if path is None:
        return AlertingConfig()
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidConfigError([FieldProblem(str(path), str(exc))]) from None
    return parse_alerting(raw)
