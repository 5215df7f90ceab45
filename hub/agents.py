"""Faust agents: thin shells that move batches from topics through pure folds into tables.

Each agent takes a batch without acknowledging it, folds it (``hub.projector``), writes
one table value per touched key, dead-letters what could not be decoded, and only then
acknowledges, so a crash anywhere replays the batch and the folds skip what they had.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import faust
import structlog

from hub.producer import dead_letter_record
from hub.projector import RawRecord, fold_batch
from hub.topics import CUSTOMERS, DEADLETTER, ROADMAP, WORKITEMS
from projections.ledger import fold_ledger
from projections.tracking import Fold, Position

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register", "BATCH_SIZE", "BATCH_WITHIN", "TABLE_SCHEMA"]

log = structlog.get_logger(__name__)

BATCH_SIZE = 1000
BATCH_WITHIN = 0.1  # seconds a partial batch may wait
# Table keys are the topics' message keys, byte for byte, so a key's changelog partition
# and its API routing land where its events do.
TABLE_SCHEMA: faust.Schema = faust.Schema(
    key_type=str,
    value_type=dict,  # type: ignore[arg-type]
    key_serializer="raw",
    value_serializer="json",
)


def register(app: HubApp) -> None:
    source = app.topic(WORKITEMS.name, CUSTOMERS.name, ROADMAP.name)
    app.deadletter_topic = app.topic(DEADLETTER.name)  # type: ignore[attr-defined]
    ledger = app.Table("ledger", default=None, partitions=app.hub_settings.topic_partitions,
                       schema=TABLE_SCHEMA, use_partitioner=True)  # fmt: skip
    app.ledger = ledger  # type: ignore[attr-defined]
    app.agent(source, name="fold-ledger")(_projector(app, ledger, fold_ledger))


def _projector(app: HubApp, table: Any, fold: Fold) -> Callable[[Any], Any]:
    metrics = app.metrics

    async def agent(stream: Any) -> None:
        async for events in stream.noack_take(BATCH_SIZE, within=BATCH_WITHIN):
            records = [
                RawRecord(
                    e.message.value,
                    Position(e.message.topic, e.message.partition, e.message.offset),
                )
                for e in events
            ]
            last_by_key = {_key(e.message.key): e for e in events}
            result = fold_batch(records, lambda key: table.get(key), fold)
            for key, state in result.states.items():
                # The store files a write under the partition of the "current" event.
                stream._set_current_event(last_by_key.get(key, events[-1]))
                table[key] = state
            for record, reason in result.rejected:
                log.warning("dead-lettered", topic=record.position.topic, reason=reason)
                metrics.dead_lettered.labels("worker").inc()
                await app.deadletter_topic.send(  # type: ignore[attr-defined]
                    value=dead_letter_record(
                        record.value, reason, "worker",
                        context={"topic": record.position.topic,
                                 "partition": record.position.partition,
                                 "offset": record.position.offset},
                    )
                )  # fmt: skip
            for e in events:
                metrics.events_folded.labels(e.message.topic).inc()
                await stream.ack(e)
            if result.duplicates:
                metrics.events_duplicate.labels(events[0].message.topic).inc(result.duplicates)

    agent.__name__ = agent.__qualname__ = f"fold_{table.name}"
    return agent


def _key(raw: bytes | str | None) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return raw or ""
