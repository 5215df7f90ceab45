"""The worker's alerting service around one evaluation: what crosses back from the fork."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from alerts.config import parse_alerting
from alerts.digest import build_digest
from alerts.engine import advance
from alerts.rules import evaluate_rules
from core.events import iso
from core.metrics import Metrics
from core.publish import AsyncPublisher
from core.secrets import SecretResolver
from hub.alerting import AlertingService
from hub.drift_inputs import drift_inputs
from hub.read_model import ReadModel
from projections.entities import fold_entity
from tests.unit.test_rollups_and_resources import NOW, scenario


async def _acked() -> None:
    """The broker's acknowledgement, already in."""


def _service(sent: list[tuple[str, str | None]]) -> tuple[AlertingService, ReadModel]:
    async def send(topic: str, key: str | None, value: bytes | None) -> Any:
        sent.append((topic, key))
        return _acked()

    model = ReadModel("changelog", clock=lambda: NOW)
    for event in scenario():
        kind, key = event.entity.kind, event.entity.key
        model.apply("changelog", f"{kind}/{key}", fold_entity(model.get(kind, key), event))
    model.mark_caught_up()
    config = parse_alerting({"rules": {"wip_over_limit": {"for": "0s"}}})
    service = AlertingService(
        config,
        publisher=AsyncPublisher(send, origin="test"),
        bootstrap_servers="unused:9092",
        read_model=model,
        metrics=Metrics(),
        secrets=SecretResolver({}),
        api_url="http://hub.example",
        clock=lambda: NOW,
    )
    return service, model


def test_an_evaluation_brings_back_its_aggregates_packed_until_a_digest_reads_them() -> None:
    """The fork's aggregates stay pickled after an evaluation (unpickling them held every
    query at scale); the first digest that reads them gets exactly what the rules judged,
    and a digest built from them equals one built from the projections directly."""
    sent: list[tuple[str, str | None]] = []
    service, model = _service(sent)

    async def evaluate() -> None:
        try:
            await service.evaluate(NOW)
        finally:
            await service.close()

    asyncio.run(evaluate())
    assert service.last_evaluation["observed"] > 0
    assert sent and all(topic == "hub.alerting" for topic, _ in sent)  # the alerts written
    assert service._inputs is None and service._packed_inputs is not None
    inputs = service.inputs
    assert inputs is not None and service._packed_inputs is None
    assert service.inputs is inputs  # decoded once
    entities, index = model.snapshot()
    direct = drift_inputs(entities, index, NOW, service.config)
    assert inputs.weeks == direct.weeks and inputs.items == direct.items
    assert inputs.investment == direct.investment and inputs.sprints == direct.sprints
    since = NOW - timedelta(days=7)
    assert build_digest(inputs, service.store.alerts, since, team="core") == build_digest(
        direct, service.store.alerts, since, team="core"
    )


def test_the_dispatcher_plans_only_on_change_or_when_a_flush_is_due() -> None:
    """After planning, the leader's tick plans again only when the alerting state changed
    (here: a silence written) or a group's next flush has come; ticks in between do not
    re-plan a thousand alerts for nothing."""
    sent: list[tuple[str, str | None]] = []
    service, _ = _service(sent)

    async def scenario() -> None:
        try:
            await steps()
        finally:
            await service.close()

    async def steps() -> None:
        await service.evaluate(NOW)
        assert service._dispatch_due(NOW)  # new alerts
        await service.dispatch(NOW)
        assert service.store.groups  # grouped, to flush after group_wait (30 s)
        assert not service._dispatch_due(NOW + timedelta(seconds=1))
        assert not service._dispatch_due(NOW + timedelta(seconds=29))
        assert service._dispatch_due(NOW + timedelta(seconds=30))
        await service.dispatch(NOW + timedelta(seconds=30))
        later = NOW + timedelta(seconds=31)
        assert not service._dispatch_due(later)
        silence = {
            "id": "s1",
            "matchers": ['team="core"'],
            "createdBy": "t",
            "comment": "",
            "startsAt": NOW.isoformat(),
            "endsAt": (NOW + timedelta(minutes=2)).isoformat(),
        }
        await service.write("silence", "s1", silence)  # fmt: skip
        assert service._dispatch_due(later)
        await service.dispatch(later)
        # The silence's end is the next moment to plan at, before the 5-minute flush.
        assert service._next_plan == NOW + timedelta(minutes=2)

    asyncio.run(scenario())


def _run(service: AlertingService, steps: Callable[[], Awaitable[None]]) -> None:
    async def scenario() -> None:
        try:
            await steps()
        finally:
            await service.close()

    asyncio.run(scenario())


def test_the_alerts_advanced_in_the_fork_equal_advancing_the_observations_here() -> None:
    """The fork advances the alerts with its observations and sends back only the changed
    ones: the store then holds exactly what advancing the same observations in this
    process gives, and the state metrics count them."""
    sent: list[tuple[str, str | None]] = []
    service, model = _service(sent)
    _run(service, lambda: service.evaluate(NOW))
    entities, index = model.snapshot()
    observed, failed = evaluate_rules(drift_inputs(entities, index, NOW, service.config),
                                      service.config)  # fmt: skip
    expected, changed = advance({}, observed, NOW, skip_alertnames=failed)
    assert service.store.alerts == expected and len(changed) == len(expected)
    assert service.last_evaluation["changed"] == len(expected)
    firing = service.metrics.alerts.labels("firing")._value.get()
    assert firing == sum(a["state"] == "firing" for a in expected.values()) > 0


def test_alerts_written_while_the_rules_ran_are_advanced_as_they_are_now() -> None:
    """An alert record arriving while the fork judges (a previous leader's last write)
    is not overwritten by the fork's answer, computed from the alerts as they were: the
    observations advance the store as it is now. Here a firing alert marked resolved
    meanwhile, and still observed, opens again instead of staying resolved."""
    sent: list[tuple[str, str | None]] = []
    service, _ = _service(sent)
    later = NOW + timedelta(minutes=1)

    async def steps() -> None:
        await service.evaluate(NOW)
        fingerprint, alert = next(iter(service.store.alerts.items()))
        assert alert["state"] == "firing"
        judging = asyncio.create_task(service.evaluate(later))
        await asyncio.sleep(0)  # the fork has been made; the rules run in it
        record = f"alert/{fingerprint}"
        resolved = {**alert, "state": "resolved", "ends_at": NOW.isoformat()}
        revision = service.store.next_revision(record) + 5
        service.store.apply("hub.alerting", record, {"rev": revision, "value": resolved})
        await judging
        now_held = service.store.alerts[fingerprint]
        assert now_held["state"] == "firing" and now_held["starts_at"] == iso(later)
        assert service.store.next_revision(record) == revision + 2  # written after it

    _run(service, steps)


def test_a_new_value_of_a_firing_alert_does_not_re_plan_the_dispatch() -> None:
    """The rules rewrite alerts' values every evaluation; the dispatcher plans again only
    when an alert's state or labels changed (or a flush is due), not for a new value."""
    sent: list[tuple[str, str | None]] = []
    service, _ = _service(sent)

    async def steps() -> None:
        await service.evaluate(NOW)
        await service.dispatch(NOW)
        fingerprint, alert = next(iter(service.store.alerts.items()))
        soon = NOW + timedelta(seconds=1)
        await service.write("alert", fingerprint, {**alert, "value": 99.0})
        assert not service._dispatch_due(soon)
        await service.write("alert", fingerprint, {**alert, "state": "resolved"})
        assert service._dispatch_due(soon)

    _run(service, steps)


def test_evaluations_share_one_fork_that_judges_the_model_and_alerts_as_they_are() -> None:
    """The second evaluation runs in the fork the first made (no fork held the event
    loop for it), yet judges what changed in between: every work item removed from the
    model and an alert resolved by hand are both seen there, so its alerts equal
    advancing the observations of the changed model in this process."""
    sent: list[tuple[str, str | None]] = []
    service, model = _service(sent)
    later = NOW + timedelta(minutes=1)

    async def steps() -> None:
        await service.evaluate(NOW)
        assert service.last_evaluation["forked"]
        for key in list(model.entities["work_item"]):
            model.apply("changelog", f"work_item/{key}", None)
        fingerprint, alert = next(iter(service.store.alerts.items()))
        resolved = {**alert, "state": "resolved", "ends_at": NOW.isoformat()}
        await service.write("alert", fingerprint, resolved)
        before = dict(service.store.alerts)
        await service.evaluate(later)
        assert not service.last_evaluation["forked"]
        entities, index = model.snapshot()
        inputs = drift_inputs(entities, index, later, service.config)
        observed, failed = evaluate_rules(inputs, service.config)
        expected, _ = advance(before, observed, later, skip_alertnames=failed)
        assert service.store.alerts == expected
        assert service.store.alerts != before  # the removed items resolved their alerts

    _run(service, steps)
