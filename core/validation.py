"""Checking what people write (connector configs, roadmap.yaml, alerting.yaml).

Every problem is reported with the path of the field it is about, all at once, so a form,
a CLI or an API client can point at each one instead of fixing them one per attempt.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from core.errors import ConfigError

__all__ = ["FieldProblem", "InvalidConfigError", "MAX_DURATION", "problems_from", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
# Longer than any interval, window or silence needs; beyond it timedelta overflows anyway.
MAX_DURATION = timedelta(days=3650)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidConfigError(ConfigError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


def problems_from(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """Pydantic's errors as field problems, the path written ``items[2].target_date``."""
    problems = []
    for err in exc.errors():
        path = prefix.rstrip(".")
        for part in err["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                path += f".{part}" if path else str(part)
        problems.append(FieldProblem(path, err["msg"]))
    return problems


def parse_duration(value: Any) -> timedelta:
    """``90``, ``"90s"``, ``"5m"``, ``"1h"``, ``"2w"``: a duration."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration like 30s, 5m, 1h or 2d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds) or abs(seconds) > MAX_DURATION.total_seconds():
        raise ValueError(f"{value!r} is longer than the longest duration allowed (3650d)")
    return timedelta(seconds=seconds)
