"""``hub publish``: validate a JSON-lines file of canonical events, all or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.codec import decode
from core.errors import SkippableError
from core.events import Event

__all__ = ["LineError", "parse_event_lines"]


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def parse_event_lines(lines: Iterable[str]) -> tuple[list[Event], list[LineError]]:
    """Every line is checked, so one run reports every problem in the file."""
    events: list[Event] = []
    errors: list[LineError] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(decode(line))
        except SkippableError as exc:
            errors.append(LineError(number, str(exc)))
    return events, errors
