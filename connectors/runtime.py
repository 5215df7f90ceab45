"""The connector runtime: each connector it is assigned polls on its interval, in a thread.

Per page: produce the events (acks from all in-sync replicas), dead-letter what could not
be mapped, and only then commit the page's cursor. A connector that fails is reported
FAILED with the error and retried with exponential backoff; the others keep running.
Everything the runtime knows lives in the connect topics, so any instance can take over:
several runtimes share the connectors as one group (``connectors.assignment``), each
connector running in exactly one of them, and a dead runtime's connectors resume in the
others from their committed cursors.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

import structlog

from connectors.assignment import Assignment, Solo, bucket
from connectors.base import Page
from connectors.config import build_connector, parse_config
from connectors.progress import Backfill, Throttle
from connectors.state import FAILED, PAUSED, RUNNING, UNASSIGNED, ConnectState
from core.errors import HubError, RetriableError
from core.events import iso, utcnow
from core.logging import scrub
from core.publish import SyncPublisher, dead_letter_record
from core.secrets import SecretResolver
from core.topics import CONNECT_OFFSETS, CONNECT_STATUS

__all__ = ["ConnectorRuntime", "MAX_BACKOFF", "SyncInterrupted"]

log = structlog.get_logger(__name__)
MAX_BACKOFF = 300.0


class SyncInterrupted(HubError):
    """The runtime is stopping; the sync ends without committing anything further."""


class ConnectorRuntime:
    def __init__(
        self,
        bootstrap_servers: str,
        secrets: SecretResolver,
        *,
        crash_after_pages: int | None = None,
        solo: bool = False,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.solo = solo  # every connector, no group: a broker nobody else's runtime uses
        self.secrets = secrets
        self.state = ConnectState()
        self.producer = SyncPublisher(
            bootstrap_servers, origin="connector", client_id="hub-connect"
        )
        self.stop_event = threading.Event()
        self.tasks: dict[str, _Task] = {}
        self.crash_after_pages = crash_after_pages  # fault injection for tests, see settings
        self.pages_produced = 0

    def start_following(self, timeout: float = 15.0) -> None:
        """Follow the state topics in the background; return once they have been read
        whole (the follower's caught-up signal), so no configured connector is missed."""
        self.state.follow_in_background(self.bootstrap_servers, "hub-connect-state")
        if not self.state.wait_caught_up(timeout):
            log.warning(
                "connector state not read whole yet; starting with what is known", seconds=timeout
            )

    def run(self) -> None:
        """Keep one task per connector this runtime is assigned, until stopped."""
        assignment: Assignment | Solo = (
            Solo()
            if self.solo
            else Assignment(self.bootstrap_servers, client_id=self.identity, release=self._release)
        )
        version = -1
        try:
            while not self.stop_event.is_set():
                assignment.poll(0.5)
                mine = {n for n in self.state.configs if assignment.owns(n)}
                for name in mine - set(self.tasks):
                    task = _Task(self, name)
                    self.tasks[name] = task
                    task.start()
                for name in set(self.tasks) - set(self.state.configs):
                    self.tasks.pop(name).stop()  # deleted
                version = self.state.wait_for_change(version, timeout=0.5)
        finally:
            for task in self.tasks.values():
                task.stop()
            deadline = time.monotonic() + 6
            for task in self.tasks.values():
                task.join(timeout=max(0.1, deadline - time.monotonic()))
            assignment.close()
            self.producer.close()

    def _release(self, buckets: set[int]) -> None:
        """Stop the tasks of the buckets the group takes away, before it hands them on."""
        leaving = [name for name in self.tasks if bucket(name) in buckets]
        for name in leaving:
            self.tasks[name].stop()
        deadline = time.monotonic() + 10
        for name in leaving:
            self.tasks.pop(name).join(timeout=max(0.1, deadline - time.monotonic()))
            if name in self.state.configs:
                self.report(name, state=UNASSIGNED, syncing=False)
        if leaving:
            log.info("connectors handed over", connectors=sorted(leaving))

    @property
    def identity(self) -> str:
        """How this runtime is named in statuses and in the group."""
        return f"{os.uname().nodename}:{os.getpid()}"

    def report(self, name: str, **status: Any) -> None:
        previous = self.state.status.get(name, {})
        record = {
            **previous,
            **status,
            "worker": self.identity,
            "updated_at": iso(utcnow()),
        }
        self.producer.publish([(CONNECT_STATUS.name, name, json.dumps(record).encode())])
        self.state.apply(CONNECT_STATUS.name, name, record)

    def commit(
        self,
        name: str,
        cursor: dict[str, Any],
        reset: int,
        backfill: dict[str, Any] | None = None,
    ) -> None:
        """Store the cursor of a page the broker acknowledged; a backfill's count goes
        with it, so a resumed backfill counts exactly the pages its cursor covers."""
        record: dict[str, Any] = {"cursor": cursor, "reset": reset, "committed_at": iso(utcnow())}
        if backfill is not None:
            record["backfill"] = backfill
        self.producer.publish([(CONNECT_OFFSETS.name, name, json.dumps(record).encode())])
        self.state.apply(CONNECT_OFFSETS.name, name, record)


class _Task(threading.Thread):
    """One connector's loop: sync, wait for its interval or a change, repeat."""

    def __init__(self, runtime: ConnectorRuntime, name: str) -> None:
        super().__init__(name=f"connector-{name}", daemon=True)
        self.runtime, self.connector_name = runtime, name
        self._halt = threading.Event()
        self.log = log.bind(connector=name)

    def stop(self) -> None:
        self._halt.set()

    def _sleep(self, seconds: float) -> None:
        """Backoff and rate-limit waits end early when the runtime or this task stops."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._halt.is_set() or self.runtime.stop_event.is_set():
                raise SyncInterrupted("stopping")
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def _record(self) -> dict[str, Any] | None:
        return self.runtime.state.configs.get(self.connector_name)

    def _stamp(self, record: dict[str, Any]) -> tuple[Any, ...]:
        """What, if it changes, interrupts a sync or a wait."""
        return (
            json.dumps(record.get("config"), sort_keys=True),
            record.get("target_state"),
            record.get("restart"),
            record.get("reset"),
        )

    def _changed(self, stamp: tuple[Any, ...]) -> bool:
        record = self._record()
        return (
            self._halt.is_set()
            or self.runtime.stop_event.is_set()
            or record is None
            or self._stamp(record) != stamp
        )

    def _wait(self, seconds: float, stamp: tuple[Any, ...]) -> None:
        deadline = time.monotonic() + seconds
        version = self.runtime.state.version
        while time.monotonic() < deadline and not self._changed(stamp):
            version = self.runtime.state.wait_for_change(
                version, min(1.0, deadline - time.monotonic())
            )

    def run(self) -> None:
        failures = 0
        while not self._halt.is_set() and not self.runtime.stop_event.is_set():
            record = self._record()
            if record is None:
                return
            stamp = self._stamp(record)
            if record.get("target_state") == PAUSED:
                self.runtime.report(self.connector_name, state=PAUSED)
                self._wait(3600, stamp)
                continue
            try:
                interval = self._sync(record, stamp)
                failures = 0
            except SyncInterrupted:
                return
            except Exception as exc:  # every failure is reported; none may stop the runtime
                failures += 1
                delay = min(MAX_BACKOFF, 2.0**failures)
                message = scrub(f"{type(exc).__name__}: {exc}")
                self.log.error("sync failed", error=message, retry_in=delay)
                errors = self.runtime.state.status.get(self.connector_name, {}).get(
                    "errors_total", 0
                )
                self.runtime.report(
                    self.connector_name,
                    state=FAILED,
                    last_error=message,
                    last_error_at=iso(utcnow()),
                    errors_total=errors + 1,
                    retry_in_seconds=delay,
                    fatal=not isinstance(exc, RetriableError),
                )
                interval = delay
            self._wait(interval, stamp)

    def _sync(self, record: dict[str, Any], stamp: tuple[Any, ...]) -> float:
        runtime, name = self.runtime, self.connector_name
        valid = parse_config(record["config"])
        connector = build_connector(valid, runtime.secrets)
        connector.sleep = self._sleep
        cursor = runtime.state.cursor(name)
        status = runtime.state.status.get(name, {})
        started, produced, rejected, newest = time.monotonic(), 0, 0, None
        warnings: list[str] = []
        backfill = self._backfill(cursor, runtime.state.offsets.get(name, {}))
        runtime.report(
            name,
            state=RUNNING,
            last_attempt_at=iso(utcnow()),
            syncing=True,
            **({"backfill": backfill.record()} if backfill else {}),
        )
        throttle, last_page = Throttle(), time.monotonic()
        committed: dict[str, Any] | None = None
        throttle.due()  # the first report just went out
        for page in connector.pull(cursor):
            if self._changed(stamp):
                self.log.info("sync interrupted by a configuration change")
                break
            produced += runtime.producer.publish_events(page.events)
            rejected += self._dead_letter(page)
            for warning in page.warnings:
                if warning not in warnings:
                    self.log.warning("source warning", warning=scrub(warning))
                    warnings.append(scrub(warning))
            runtime.pages_produced += 1
            if runtime.crash_after_pages and runtime.pages_produced >= runtime.crash_after_pages:
                os._exit(137)  # fault injection: die between produce and cursor commit
            for event in page.events:
                newest = event.occurred_at if newest is None else max(newest, event.occurred_at)
            if backfill is not None:
                now = time.monotonic()
                backfill.add((e.occurred_at for e in page.events), now - last_page)
                last_page = now
            counted = backfill.record() if backfill is not None else None
            runtime.commit(name, page.cursor, record.get("reset", 0), counted)
            if counted is not None and throttle.due():
                runtime.report(name, backfill=counted)
            committed = page.cursor
        else:
            if backfill is not None:
                backfill.finish()
                if committed is not None:  # so the next sync knows it is not a backfill
                    runtime.commit(name, committed, record.get("reset", 0), backfill.record())
        seconds = time.monotonic() - started
        lag = (datetime.now(UTC) - newest).total_seconds() if newest else 0.0
        runtime.report(
            name,
            state=RUNNING,
            syncing=False,
            last_success_at=iso(utcnow()),
            last_error=None,
            last_sync_seconds=round(seconds, 3),
            last_sync_events=produced,
            events_produced_total=status.get("events_produced_total", 0) + produced,
            dead_lettered_total=status.get("dead_lettered_total", 0) + rejected,
            newest_event_lag_seconds=round(lag, 1),
            warnings=warnings,
            retry_in_seconds=None,
            **({"backfill": backfill.record()} if backfill else {}),
        )
        self.log.info("synced", events=produced, dead_lettered=rejected, seconds=round(seconds, 2))
        return valid.config.poll_interval.total_seconds()

    @staticmethod
    def _backfill(cursor: dict[str, Any] | None, committed: dict[str, Any]) -> Backfill | None:
        """A sync with no cursor pulls the whole history: a new backfill. One that starts
        from the cursor of a backfill an earlier runtime left unfinished goes on with it,
        from the count committed with that cursor."""
        if cursor is None:
            return Backfill.begin(utcnow())
        previous = committed.get("backfill")
        if previous and not previous.get("done"):
            return Backfill.resume(previous)
        return None

    def _dead_letter(self, page: Page) -> int:
        for reject in page.rejects:
            self.runtime.producer.publish_dead_letter(
                dead_letter_record(reject.raw, reject.error, f"connector:{self.connector_name}"),
                key=self.connector_name,
            )
        return len(page.rejects)
