"""Folding a batch of raw records into keyed projection states, without Kafka.

The worker hands a batch; this decodes each record, skips what the state already
applied, folds the rest in order, and returns one new state per touched key plus the
records that could not be decoded. One table write per touched key per batch is what
makes the worker fast; keeping it here keeps the agent a thin shell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from core.codec import decode
from core.errors import SkippableError
from core.events import Event
from core.log_reader import Position
from projections.tracking import Fold, apply_tracked

__all__ = ["RawRecord", "BatchResult", "fold_batch"]

log = structlog.get_logger(__name__)

State = dict[str, Any]


@dataclass(frozen=True)
class RawRecord:
    value: bytes
    position: Position


@dataclass
class BatchResult:
    states: dict[str, State] = field(default_factory=dict)
    applied: int = 0
    duplicates: int = 0
    rejected: list[tuple[RawRecord, str]] = field(default_factory=list)


def fold_batch(
    records: Iterable[RawRecord],
    load: Callable[[str], State | None],
    fold: Fold,
    key_of: Callable[[Event], str | None] = lambda e: e.entity.stream_key,
) -> BatchResult:
    """Decode and fold; ``key_of`` returning None means this projection ignores the event."""
    result = BatchResult()
    for record in records:
        try:
            event = decode(record.value)
        except SkippableError as exc:
            result.rejected.append((record, str(exc)))
            continue
        key = key_of(event)
        if key is None:
            continue
        state = result.states[key] if key in result.states else load(key)
        try:
            new_state, changed = apply_tracked(fold, state, event, record.position)
        except SkippableError as exc:
            result.rejected.append((record, str(exc)))
            continue
        except Exception as exc:  # a fold bug: park this event, keep the partition moving
            log.exception("fold failed", key=key, event_type=event.type)
            result.rejected.append((record, f"fold failed: {type(exc).__name__}: {exc}"))
            continue
        if changed:
            result.states[key] = new_state
            result.applied += 1
        else:
            result.duplicates += 1
    return result
