"""Canonical events as served: decoded and checked, each bad one rejected with the reason."""

from __future__ import annotations

from connectors.base import Reject
from core.codec import decode_dict
from core.errors import SkippableError
from core.events import Event

__all__ = ["map_events"]


def map_events(raws: list[object], connector: str) -> tuple[list[Event], list[Reject]]:
    """Decode ``raws``; an event that fails validation or names another connector as its
    source is rejected (dead-lettered), the rest flow on."""
    events, rejects = [], []
    for raw in raws:
        try:
            event = decode_dict(raw)
        except SkippableError as exc:
            rejects.append(Reject(raw, str(exc)))
            continue
        if event.source.connector != connector:
            rejects.append(
                Reject(
                    raw, f"source.connector is {event.source.connector!r}, expected {connector!r}"
                )
            )
            continue
        events.append(event)
    return events, rejects
