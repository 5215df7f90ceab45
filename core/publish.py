"""The one publish path: every record the hub writes to the log goes through a Publisher.

Canonical events are keyed by their entity and routed to their kind's topic; dead letters
carry the untouched input, why it failed and where from; state records (connector state,
alerting, roadmap changes) are written as given. Each publisher has an ``origin``
(``connector``, ``webhook``, ``api``, ``worker``, ``cli``) and counts every record the
broker acknowledged in one labelled counter, ``hub_records_produced_total{topic, origin}``.

Two transports, one contract: ``SyncPublisher`` (kafka-python, for the connector runtime
and the CLI, which commit cursors after a page is acknowledged) and ``AsyncPublisher``
(the worker's own Faust producer, for routes and alerting on the event loop). Both wait
for acknowledgements (acks from all in-sync replicas) before they report a record sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from core.codec import encode
from core.errors import BrokerUnavailableError
from core.events import Event, utcnow
from core.logging import scrub
from core.metrics import Metrics
from core.topics import DEADLETTER, topic_for_kind

__all__ = [
    "AsyncPublisher",
    "Record",
    "RecordCopy",
    "SyncPublisher",
    "dead_letter_record",
    "event_record",
]

log = structlog.get_logger(__name__)
Record = tuple[str, str | None, bytes | None]  # topic, key, value (None: a tombstone)


def event_record(event: Event) -> Record:
    """Where a canonical event goes: its kind's topic, keyed by its entity."""
    return topic_for_kind(event.entity.kind).name, event.entity.stream_key, encode(event)


def dead_letter_record(
    raw: bytes | str | Any,
    error: str,
    origin: str,
    *,
    context: dict[str, Any] | None = None,
    failed_at: datetime | None = None,
) -> bytes:
    """What the dead-letter topic holds: the untouched input, why it failed, where from."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="backslashreplace")
    elif not isinstance(raw, str):
        raw = json.dumps(raw, default=str)
    record = {
        "origin": origin,
        "error": scrub(error),
        "raw": scrub(raw),
        "context": context or {},
        "failed_at": (failed_at or utcnow()).isoformat(),
    }
    return json.dumps(record).encode()


@dataclass(frozen=True)
class RecordCopy:
    """A record copied as it was (a restore): its partition, timestamp and headers kept."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class _Counted:
    """What both transports share: the origin and the one counter."""

    def __init__(self, origin: str, metrics: Metrics | None) -> None:
        self.origin = origin
        self.metrics = metrics

    def _count(self, records: Iterable[Record]) -> None:
        if self.metrics is None:
            return
        for topic, _, _ in records:
            self.metrics.records_produced.labels(topic, self.origin).inc()


class SyncPublisher(_Counted):
    """kafka-python's producer: each call returns once every record was acknowledged."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        origin: str,
        client_id: str = "hub-producer",
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(origin, metrics)
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap_servers,
                client_id=client_id,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                retries=5,
                request_timeout_ms=15000,
                max_block_ms=15000,
            )
        except KafkaError as exc:
            raise BrokerUnavailableError(f"broker at {bootstrap_servers}: {exc}") from None

    def publish(self, records: Iterable[Record]) -> int:
        """Produce ``records`` and wait for every acknowledgement; the number sent."""
        batch = list(records)
        self._await(
            [
                self._producer.send(topic, key=key.encode() if key else None, value=value)
                for topic, key, value in batch
            ]
        )
        self._count(batch)
        return len(batch)

    def copy(self, copies: Iterable[RecordCopy], *, chunk: int = 5000) -> int:
        """Produce records as they were — partition, timestamp, headers — waiting for each
        ``chunk`` to be acknowledged, so a stream of any length is copied in bounded memory."""
        sent = 0
        batch: list[RecordCopy] = []
        for record in copies:
            batch.append(record)
            if len(batch) >= chunk:
                sent += self._copy(batch)
                batch = []
        return sent + self._copy(batch)

    def _copy(self, batch: list[RecordCopy]) -> int:
        self._await(
            [
                self._producer.send(
                    c.topic,
                    key=c.key,
                    value=c.value,
                    partition=c.partition,
                    timestamp_ms=c.timestamp_ms,
                    headers=c.headers or None,
                )
                for c in batch
            ]
        )
        self._count((c.topic, None, c.value) for c in batch)
        return len(batch)

    def _await(self, futures: list[Any]) -> None:
        from kafka.errors import KafkaError

        self._producer.flush()
        try:
            for future in futures:
                future.get(timeout=30)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"produce failed: {exc}") from None

    def publish_events(self, events: Iterable[Event]) -> int:
        return self.publish(event_record(e) for e in events)

    def publish_dead_letter(self, letter: bytes, key: str | None = None) -> None:
        """``letter`` as built by ``dead_letter_record``."""
        self.publish([(DEADLETTER.name, key, letter)])

    def close(self) -> None:
        self._producer.close(timeout=5)

    def __enter__(self) -> SyncPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Send = Callable[[str, str | None, bytes | None], Awaitable[Awaitable[Any]]]


class AsyncPublisher(_Counted):
    """On the event loop, over a producer's ``send`` (the worker's Faust producer): queue
    every record, then await every acknowledgement."""

    def __init__(self, send: Send, *, origin: str, metrics: Metrics | None = None) -> None:
        super().__init__(origin, metrics)
        self._send = send

    def with_origin(self, origin: str) -> AsyncPublisher:
        """The same producer and counter, counted under another origin."""
        return AsyncPublisher(self._send, origin=origin, metrics=self.metrics)

    async def publish(self, records: Iterable[Record]) -> int:
        batch = list(records)
        acks = [await self._send(topic, key, value) for topic, key, value in batch]
        await asyncio.gather(*acks)
        self._count(batch)
        return len(batch)

    async def publish_events(self, events: Iterable[Event]) -> int:
        return await self.publish(event_record(e) for e in events)

    async def publish_dead_letter(self, letter: bytes, key: str | None = None) -> None:
        await self.publish([(DEADLETTER.name, key, letter)])
