"""Label matchers as Alertmanager writes them: ``team="payments"``, ``severity=~"crit.*"``.

Used by routes, silences and inhibition rules alike, so a matcher means one thing everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

__all__ = ["Matcher", "parse_matcher", "matches_all"]

_MATCHER = re.compile(
    r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$'
)


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # one of = != =~ !~
    value: str

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(f"^(?:{self.value})$")  # anchored, as in Alertmanager

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = bool(self._pattern.match(actual))
        return found if self.op == "=~" else not found

    def as_dict(self) -> dict[str, Any]:
        """Alertmanager's API shape: name, value, isRegex, isEqual."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.op in ("=~", "!~"),
            "isEqual": self.op in ("=", "=~"),
        }

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(raw: str | Mapping[str, Any]) -> Matcher:
    """``'team="payments"'`` or Alertmanager's ``{name, value, isRegex, isEqual}``."""
    if isinstance(raw, Mapping):
        try:
            name, value = str(raw["name"]), str(raw["value"])
        except KeyError as exc:
            raise ValueError(f"a matcher needs {exc.args[0]!r}") from None
        regex, equal = bool(raw.get("isRegex", False)), bool(raw.get("isEqual", True))
        op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
        matcher = Matcher(name, op[(regex, equal)], value)
    else:
        found = _MATCHER.match(raw)
        if not found:
            raise ValueError(f'{raw!r} is not a matcher like team="payments"')
        value = found.group(3) if found.group(3) is not None else found.group(4)
        matcher = Matcher(found.group(1), found.group(2), value.replace('\\"', '"'))
    if matcher.op in ("=~", "!~"):
        try:
            re.compile(matcher.value)
        except re.error as exc:
            raise ValueError(f"{matcher}: bad regular expression: {exc}") from None
    return matcher


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
