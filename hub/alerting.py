"""Drift rules and alerts in the worker: evaluate, persist, notify. The I/O around
``alerts``' pure steps.

Only the group leader evaluates and notifies (a Faust ``on_leader`` timer), so several
workers never send the same notification. Every worker follows ``hub.alerting`` into an
``AlertStore`` and answers the alert and silence API from it. The leader starts acting
only once its store has read the whole topic, so a new leader continues the previous
one's notification log instead of re-sending it (no storm after a restart).
"""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import TYPE_CHECKING, Any

import structlog

from alerts.config import AlertingConfig, load_alerting
from alerts.delivery import Deliverer, Delivery, send, send_digest
from alerts.digest import build_digest, due_digests, period_of
from alerts.dispatch import (
    Notification,
    Router,
    delivered,
    integrations,
    next_dispatch,
    plan,
)
from alerts.engine import advance
from alerts.inputs import DriftInputs
from alerts.rules import evaluate_rules
from alerts.store import AlertStore
from core.events import iso, utcnow
from core.metrics import Metrics
from core.publish import AsyncPublisher
from core.secrets import SecretResolver
from core.settings import Settings
from core.topics import ALERTING
from hub.drift_inputs import DeliveryInputs, assemble, delivery_inputs, effort_inputs
from hub.forked import FORK_AVAILABLE, StandingFork, beside
from hub.read_model import ReadModel
from hub.theme_service import ThemeService, theme_views
from projections.rollups import WorkIndex

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["AlertingService", "register", "TICK_SECONDS"]

log = structlog.get_logger(__name__)
TICK_SECONDS = 0.5
MIN_EVALUATION_GAP = 1.0  # seconds between change-triggered evaluations
DUTY_CYCLE_FACTOR = 10.0  # change-triggered evaluations wait 10x their own duration


@dataclass(frozen=True)
class _Judgement:
    """What an evaluation's fork sends back: small, or packed until someone reads it.

    At 50x the demo, unpickling 2,800 observations and advancing the alerts with them on
    the event loop held every query for 50 ms per evaluation; the fork does both."""

    packed_inputs: bytes  # the aggregates the digests read (``AlertingService.inputs``)
    packed_observed: bytes  # for advancing again if the alerts changed while it ran
    observed: int
    failed: set[str]
    changed: dict[str, dict[str, Any] | None]  # the alerts to write (None: forget)
    states: Counter[str]  # alerts by state, for the metrics
    held: int  # entities judged


class AlertingService:
    """Evaluates, persists and notifies; every dependency handed in by the wiring."""

    def __init__(
        self,
        config: AlertingConfig,
        *,
        publisher: AsyncPublisher,
        bootstrap_servers: str,
        read_model: ReadModel,
        metrics: Metrics,
        secrets: SecretResolver,
        api_url: str,
        clock: Any = utcnow,
        themes: ThemeService | None = None,
    ) -> None:
        self.config = config
        self.publisher = publisher
        self.bootstrap_servers = bootstrap_servers
        self.read_model = read_model
        self.metrics = metrics
        self.secrets = secrets
        self.clock = clock
        self.themes = themes  # feedback themes, for the rules about demand nobody plans for
        self.store = AlertStore()
        self.router = Router(config.route)  # label sets routed once, for every plan
        self.external_url = (config.external_url or api_url).rstrip("/")
        self.deliverer = Deliverer(config, self._on_result, clock)
        self._inputs: DriftInputs | None = None
        self._packed_inputs: bytes | None = None
        self.last_evaluation: dict[str, Any] = {}
        self._evaluated_at = 0.0
        self._evaluated_version = -1
        self._last_duration = 0.0
        self._last_started = 0.0
        self._evaluation: asyncio.Task[None] | None = None
        self._pending: dict[tuple[str, str], Notification] = {}
        self._planned_version = -1  # the store's routing version the last plan saw
        self._next_plan: datetime | None = None  # when a plan could next decide anything
        self._planned_at: datetime | None = None  # groups flush for their times after it
        self._lock = asyncio.Lock()
        # The rules run in a fork kept between evaluations, fed the records both stores
        # apply: forking a 1.7 GB worker for every evaluation held every query ~50 ms.
        self._judging: StandingFork[tuple[datetime, dict[str, Any] | None], _Judgement] = (
            StandingFork([read_model, self.store])
        )

    @property
    def inputs(self) -> DriftInputs | None:
        """The last evaluation's aggregates, unpickled when a digest first reads them.

        The fork sends them packed: at 1,000 engineers they are 8 MB, and unpickling them
        after every evaluation held the event loop (and every query) for ~50 ms, for
        digests that go out once a day or a week."""
        if self._inputs is None and self._packed_inputs is not None:
            self._inputs = pickle.loads(self._packed_inputs)
            self._packed_inputs = None
        return self._inputs

    # --- persistence ------------------------------------------------------------

    async def write(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        await self.write_many(kind, {key: value})

    async def write_many(self, kind: str, values: dict[str, dict[str, Any] | None]) -> None:
        """Apply and publish records together, awaiting their acks once: an evaluation
        that changes a hundred alerts holds the lock the timer's tick waits for for one
        round trip, not a hundred."""
        batch = []
        for key, value in values.items():
            record_key = f"{kind}/{key}"
            record = {"rev": self.store.next_revision(record_key), "value": value}
            self.store.apply(ALERTING.name, record_key, record)
            batch.append((ALERTING.name, record_key, json.dumps(record).encode()))
        if batch:
            await self.publisher.publish(batch)

    async def follow(self) -> None:
        await self.store.follow(self.bootstrap_servers, "hub-alerting")

    # --- the leader's loop ------------------------------------------------------

    async def tick(self) -> None:
        """Start an evaluation when one is due, then dispatch and send digests.

        The evaluation runs as its own task: the timer's tick returns in milliseconds
        however long the rules take, so ticks never overlap (Faust warns when they do)
        and notifications keep flowing while a large organisation is being judged.
        """
        if not self.store.caught_up:
            return
        if self._evaluation is not None and self._evaluation.done():
            if not self._evaluation.cancelled() and self._evaluation.exception():
                log.error("drift rule evaluation failed", exc_info=self._evaluation.exception())
            self._evaluation = None
        if self._evaluation is None and self._evaluation_due():
            self._evaluation = asyncio.create_task(self.evaluate(self.clock()))
        async with self._lock:
            now = self.clock()
            if self._dispatch_due(now):
                await self.dispatch(now)
            await self.send_digests(now)

    def _dispatch_due(self, now: datetime) -> bool:
        """Plan when what routing reads changed (an alert's state or labels, a group, a
        silence, a delivery: all arrive as store writes; ``AlertStore.routing_version``)
        or a group's flush or a silence's edge has come: with a thousand alerts firing,
        planning every tick for nothing held the event loop 5-15 ms twice a second."""
        if self.store.routing_version != self._planned_version:
            return True
        return self._next_plan is not None and now >= self._next_plan

    def _evaluation_due(self) -> bool:
        model = self.read_model
        if not model.caught_up or not model.version:
            # A half-read projection would "resolve" alerts only to fire them again.
            return False
        elapsed = time.monotonic() - self._evaluated_at
        if elapsed >= self.config.evaluation_interval.total_seconds():
            return True
        # On change, but at most a tenth of the time: a large organisation's evaluation
        # must not starve folding while a backfill streams in.
        gap = max(MIN_EVALUATION_GAP, DUTY_CYCLE_FACTOR * self._last_duration)
        return model.version != self._evaluated_version and elapsed >= gap

    async def evaluate(self, now: datetime) -> None:
        """Judge the projections: the rules in the standing fork, then the alerts' new
        states written under the lock the dispatcher and the delivery results share."""
        version = self.read_model.version
        started = time.monotonic()
        interval = started - self._last_started if self._last_started else None
        self._last_started = started
        themes = await self.themes.settled() if self.themes is not None else None
        config = self.config
        # Without a fork the rules run in a thread, which must not read the dict the
        # event loop writes to: they get a shallow copy. A fork has its own, kept equal
        # to this store's by its journal.
        alerts_then = None if FORK_AVAILABLE else dict(self.store.alerts)
        writes_then, forks_then = self.store.alert_writes, self._judging.forks
        judged = await self._judging.call(
            partial(self._judge, themes, config), (now, alerts_then), (themes, config)
        )
        computed = time.monotonic() - started
        async with self._lock:
            self._packed_inputs, self._inputs = judged.packed_inputs, None
            changed, states = judged.changed, judged.states
            if self.store.alert_writes != writes_then:
                # Alerts written while the rules ran (a previous leader's last writes
                # arriving): the observations advance what the store holds now instead.
                observed = pickle.loads(judged.packed_observed)
                changed, states = self._advance(self.store.alerts, observed, now, judged.failed)
            await self.write_many("alert", dict(changed))
        self._evaluated_at, self._evaluated_version = time.monotonic(), version
        duration = time.monotonic() - started
        self._last_duration = duration
        self.last_evaluation = {
            "at": iso(now),
            "seconds": round(duration, 3),
            "rules_seconds": round(computed, 3),
            "since_previous_seconds": round(interval, 3) if interval is not None else None,
            "entities": judged.held,
            "observed": judged.observed,
            "failed_rules": sorted(judged.failed),
            "changed": len(changed),
            "forked": self._judging.forks != forks_then,
        }
        self.metrics.rule_evaluation_seconds.set(duration)
        self.metrics.rule_evaluations.inc()
        if interval is not None:
            self.metrics.rule_evaluation_interval_seconds.set(interval)
        for state in ("pending", "firing", "recovering", "resolved", "inactive"):
            self.metrics.alerts.labels(state).set(states.get(state, 0))

    def _judge(
        self,
        themes: Any,
        config: AlertingConfig,
        request: tuple[datetime, dict[str, Any] | None],
    ) -> _Judgement:
        """One evaluation, in the standing fork: the rules over the model as the fork
        holds it, and the alerts' next states. Only what changed and the aggregates the
        digests read go back, packed."""
        now, alerts_then = request
        model = self.read_model
        alerts = self.store.alerts if alerts_then is None else alerts_then

        @cache  # without fork both halves run in one thread: one snapshot for both
        def portfolio() -> tuple[dict[str, dict[str, Any]], WorkIndex]:
            # In a fork the model as the fork holds it, uncopied.
            return model.as_forked() if FORK_AVAILABLE else model.snapshot()

        def delivery() -> tuple[DeliveryInputs, list[dict[str, Any]] | None]:
            # The helper fork: half the inputs, and the themes' demand.
            entities, index = portfolio()
            views = theme_views(themes, entities, index, now) if themes is not None else None
            return delivery_inputs(entities, index, now, config), views

        def compute(
            other_half: Callable[[], tuple[DeliveryInputs, list[dict[str, Any]] | None]],
        ) -> _Judgement:
            entities, index = portfolio()
            effort = effort_inputs(entities, index, now, config)
            half, views = other_half()
            inputs = assemble(entities, index, now, config, effort, half)
            if views is not None:
                inputs.themes = views
            observed, failed = evaluate_rules(inputs, config)
            changed, states = self._advance(alerts, observed, now, failed)
            return _Judgement(
                packed_inputs=pickle.dumps(inputs.aggregates(), protocol=pickle.HIGHEST_PROTOCOL),
                packed_observed=pickle.dumps(observed, protocol=pickle.HIGHEST_PROTOCOL),
                observed=len(observed),
                failed=failed,
                changed=changed,
                states=states,
                held=sum(len(states) for states in entities.values()),
            )

        # The two halves of the inputs on two cores: at 50x the demo each is ~2 s.
        return beside(delivery, compute)

    def _advance(
        self, alerts: dict[str, Any], observed: list[Any], now: datetime, failed: set[str]
    ) -> tuple[dict[str, dict[str, Any] | None], Counter[str]]:
        """The alerts that change with ``observed`` (failed rules' alerts left as they
        were), and every alert's state counted, for the metrics."""
        after, changed = advance(
            alerts, observed, now, skip_alertnames=failed, retention=self.config.resolved_retention
        )
        return changed, Counter(alert["state"] for alert in after.values())

    async def dispatch(self, now: datetime) -> None:
        groups, changed, notifications = plan(
            self.store.alerts,
            self.store.groups,
            self.store.silences.values(),
            self.config,
            now,
            self.deliverer.in_flight,
            self.router,
            self._planned_at,
        )
        await self.write_many("group", dict(changed))
        self._planned_version = self.store.routing_version  # its own writes included
        self._planned_at = now
        self._next_plan = next_dispatch(groups, self.store.silences.values(), now)
        for notification in notifications:
            receiver = self.config.receiver(notification.receiver)
            integration = dict(integrations(receiver))[notification.integration]
            self._pending[(notification.group_key, notification.integration)] = notification
            log.info(
                "notifying",
                receiver=notification.receiver,
                integration=notification.integration,
                status=notification.status,
                firing=len(notification.firing),
                resolved=len(notification.resolved),
            )
            self.deliverer.submit(
                Delivery(
                    id=notification.id,
                    kind="notification",
                    receiver=notification.receiver,
                    integration=notification.integration,
                    key=notification.group_key,
                    attempt=partial(
                        send,
                        integration,
                        notification,
                        self.secrets,
                        self.external_url,
                        self.config.delivery.timeout.total_seconds(),
                    ),
                    details={
                        "alert_status": notification.status,
                        "firing": notification.firing,
                        "resolved": notification.resolved,
                    },
                )
            )

    async def send_digests(self, now: datetime) -> None:
        outputs = {r.name: [n for n, _ in integrations(r)] for r in self.config.receivers}
        for schedule in self.config.digests:
            if schedule.name not in self.store.digests:
                # First sight: count from now, so enabling a digest sends no backlog.
                sent = {name: iso(now) for name in outputs[schedule.receiver]}
                await self.write("digest", schedule.name, {"sent": sent})
        if self._inputs is None and self._packed_inputs is None:
            return  # no evaluation yet; the next tick will have one
        records = {name: state["sent"] for name, state in self.store.digests.items()}
        for schedule, name, due in due_digests(self.config.digests, records, outputs, now):
            key = f"digest:{schedule.name}"
            inputs = self.inputs
            if (key, name) in self.deliverer.in_flight or inputs is None:
                continue
            integration = dict(integrations(self.config.receiver(schedule.receiver)))[name]
            digest = build_digest(
                inputs,
                self.store.alerts,
                due - period_of(schedule),
                team=schedule.team,
                name=schedule.name,
            )
            self.deliverer.submit(
                Delivery(
                    id=f"{schedule.name}@{iso(due)}",
                    kind="digest",
                    receiver=schedule.receiver,
                    integration=name,
                    key=key,
                    attempt=partial(
                        send_digest,
                        integration,
                        digest,
                        self.secrets,
                        self.config.delivery.timeout.total_seconds(),
                    ),
                    details={"digest": schedule.name, "due": iso(due)},
                )
            )

    async def _on_result(self, delivery: Delivery, record: dict[str, Any]) -> None:
        self.metrics.notifications.labels(delivery.integration, record["status"]).inc()
        async with self._lock:
            await self.write("delivery", f"{delivery.id}:{delivery.integration}", record)
            if record["status"] == "retrying":
                return
            now = self.clock()
            if delivery.kind == "notification":
                notification = self._pending.pop((delivery.key, delivery.integration), None)
                group = self.store.groups.get(delivery.key)
                if record["status"] == "delivered" and notification and group:
                    await self.write("group", delivery.key, delivered(group, notification, now))
            elif delivery.kind == "digest":
                name = delivery.details["digest"]
                state = self.store.digests.get(name) or {"sent": {}}
                sent = {**state["sent"], delivery.integration: delivery.details["due"]}
                await self.write("digest", name, {**state, "sent": sent})

    async def close(self) -> None:
        if self._evaluation is not None:
            self._evaluation.cancel()
            await asyncio.gather(self._evaluation, return_exceptions=True)
        self._judging.close()
        await self.deliverer.close()


def register(
    app: HubApp,
    settings: Settings,
    bootstrap_servers: str,
    read_model: ReadModel,
    metrics: Metrics,
    secrets: SecretResolver,
    publisher: AsyncPublisher,
    themes: ThemeService | None = None,
) -> AlertingService:
    """Alerting's tasks on ``app``: follow ``hub.alerting``, and the leader's timer."""
    service = AlertingService(
        load_alerting(settings.alerting_file),
        publisher=publisher,
        bootstrap_servers=bootstrap_servers,
        read_model=read_model,
        metrics=metrics,
        secrets=secrets,
        api_url=settings.api_url,
        themes=themes,
    )

    @app.task
    async def follow_alerting() -> None:
        await service.follow()

    @app.timer(interval=TICK_SECONDS, on_leader=True)
    async def alerting_tick() -> None:
        try:
            await service.tick()
        except Exception:  # one bad tick must not stop alerting for good
            log.exception("alerting tick failed")

    @app.on_before_shutdown.connect
    async def stop_deliveries(*_: Any, **__: Any) -> None:
        await service.close()

    return service
