"""Producing canonical events and dead letters from outside the worker (CLI, connectors).

kafka-python's producer: acks from all in-sync replicas and idempotence, which Apache
Kafka and the embedded broker both honour. A batch is only reported sent once every
record in it was acknowledged, so callers can commit cursors after ``send_events``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import structlog

from core.codec import encode
from core.errors import BrokerUnavailableError
from core.events import Event, utcnow
from core.logging import scrub
from core.topics import DEADLETTER, topic_for_kind

__all__ = ["EventProducer", "dead_letter_record"]

log = structlog.get_logger(__name__)


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


class EventProducer:
    def __init__(self, bootstrap_servers: str, *, client_id: str = "hub-producer") -> None:
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

    def send_events(self, events: Iterable[Event]) -> int:
        """Produce keyed by entity and wait for every acknowledgement."""
        futures = []
        for event in events:
            topic = topic_for_kind(event.entity.kind).name
            futures.append(
                self._producer.send(
                    topic, key=event.entity.stream_key.encode(), value=encode(event)
                )
            )
        self._wait(futures)
        return len(futures)

    def send_dead_letter(self, record: bytes, key: str | None = None) -> None:
        self.send_raw(DEADLETTER.name, key, record)

    def send_raw(self, topic: str, key: str | None, value: bytes | None) -> None:
        """For the runtime's own state topics; waits for the acknowledgement."""
        future = self._producer.send(topic, key=key.encode() if key else None, value=value)
        self._wait([future])

    def _wait(self, futures: list[Any]) -> None:
        from kafka.errors import KafkaError

        self._producer.flush()
        try:
            for future in futures:
                future.get(timeout=30)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"produce failed: {exc}") from None

    def close(self) -> None:
        self._producer.close(timeout=5)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
