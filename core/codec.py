"""The one way events cross a topic: JSON bytes in, validated (and upcast) events out.

Old events stay in the log forever, so reading upgrades them: each upcaster lifts a raw
dict one schema version, and decoding applies them in order before validation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from core.errors import SkippableError
from core.events import EVENT_ADAPTER, EVENT_TYPES, SCHEMA_VERSION, Event

__all__ = ["encode", "decode", "decode_dict", "upcast", "describe_validation_error"]

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """v1 named only the system (``"source": "jira"``); v2 adds the connector."""
    source = raw.get("source")
    if isinstance(source, str):
        raw = {**raw, "source": {"system": source, "connector": source}}
    return raw


def _v2_to_v3(raw: dict[str, Any]) -> dict[str, Any]:
    """v3 adds a request's words (``payload.text``); a v2 request has none to give, so
    its text stays empty (themes skip it) and everything else folds as before."""
    return raw


UPCASTERS: dict[int, Upcaster] = {1: _v1_to_v2, 2: _v2_to_v3}


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    version = raw.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version < 1 or version > SCHEMA_VERSION:
        raise SkippableError(
            f"unsupported schema_version {version!r} (this hub reads 1..{SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        raw = UPCASTERS[version](raw)
        version += 1
    return {**raw, "schema_version": SCHEMA_VERSION}


def describe_validation_error(exc: ValidationError, tag: str | None = None) -> str:
    """One line a person can act on: field path and what is wrong there."""
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        if tag is not None and loc[:1] == [tag]:
            loc = loc[1:]  # the union's discriminator, not a field
        where = ".".join(str(p) for p in loc) or "event"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def decode_dict(raw: Any) -> Event:
    if not isinstance(raw, dict):
        raise SkippableError(f"an event must be a JSON object, got {type(raw).__name__}")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise SkippableError(
            f"unknown event type {kind!r}; known types: {', '.join(sorted(EVENT_TYPES))}"
        )
    try:
        return EVENT_ADAPTER.validate_python(upcast(raw))
    except ValidationError as exc:
        raise SkippableError(
            f"invalid {kind} event: {describe_validation_error(exc, kind)}"
        ) from None


def decode(data: bytes | str) -> Event:
    # Fast path: current-version events validate straight from JSON in pydantic-core.
    try:
        event = EVENT_ADAPTER.validate_json(data)
    except ValidationError:
        pass
    else:
        if event.schema_version == SCHEMA_VERSION:
            return event
    # Slow path: upcasting, and error messages a person can act on.
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SkippableError(f"not JSON: {exc}") from None
    return decode_dict(raw)


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()
