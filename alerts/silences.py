"""Silences: matchers and a time window during which matching alerts notify no one.

Shaped like Alertmanager's (``matchers``, ``startsAt``, ``endsAt``, ``createdBy``,
``comment``; states pending, active, expired), so its tooling habits carry over.
Deleting a silence expires it; the record stays for the audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.matchers import Matcher, parse_matcher
from core.events import UtcDatetime, iso, parse_utc

__all__ = ["SilenceRequest", "new_silence", "silence_state", "silenced_by", "expire"]


class SilenceRequest(BaseModel):
    """``POST /api/v1/silences``: what a person asks for."""

    model_config = ConfigDict(extra="forbid")

    matchers: list[str | dict[str, Any]] = Field(min_length=1)
    startsAt: UtcDatetime | None = None
    endsAt: UtcDatetime
    createdBy: str = Field(min_length=1)
    comment: str = Field(min_length=1)

    @field_validator("matchers")
    @classmethod
    def _parse(cls, value: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
        for raw in value:
            parse_matcher(raw)
        return value

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.startsAt and self.endsAt <= self.startsAt:
            raise ValueError("endsAt must be after startsAt")
        return self


def new_silence(request: SilenceRequest, now: datetime) -> dict[str, Any]:
    starts = request.startsAt or now
    if request.endsAt <= now:
        raise ValueError("endsAt must be in the future")
    return {
        "id": str(uuid.uuid4()),
        "matchers": [parse_matcher(m).as_dict() for m in request.matchers],
        "startsAt": iso(starts),
        "endsAt": iso(request.endsAt),
        "createdBy": request.createdBy,
        "comment": request.comment,
        "updatedAt": iso(now),
    }


def _matchers(silence: Mapping[str, Any]) -> list[Matcher]:
    return [parse_matcher(m) for m in silence["matchers"]]


def silence_state(silence: Mapping[str, Any], now: datetime) -> str:
    if parse_utc(silence["endsAt"]) <= now:
        return "expired"
    if parse_utc(silence["startsAt"]) > now:
        return "pending"
    return "active"


def silenced_by(
    labels: Mapping[str, str], silences: Iterable[Mapping[str, Any]], now: datetime
) -> list[str]:
    return [
        s["id"]
        for s in silences
        if silence_state(s, now) == "active" and all(m.matches(labels) for m in _matchers(s))
    ]


def expire(silence: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    ends = min(parse_utc(silence["endsAt"]), now)
    starts = min(parse_utc(silence["startsAt"]), ends)
    return {**silence, "startsAt": iso(starts), "endsAt": iso(ends), "updatedAt": iso(now)}
