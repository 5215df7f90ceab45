"""Query parameters: parsed once, refused with the reason (400) when wrong."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from faust.web import Request

from hub.api.errors import ApiError

__all__ = ["Query", "paginate", "page_body"]

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class Query:
    """A request's query string, checked against the parameters a route accepts."""

    def __init__(self, request: Request, allowed: Iterable[str]) -> None:
        self.values = dict(request.query)
        unknown = sorted(set(self.values) - set(allowed))
        if unknown:
            raise ApiError(
                400,
                "bad_parameter",
                f"unknown parameter(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(allowed)) or 'none'}",
            )

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value else None

    def time(self, name: str) -> datetime | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            raise ApiError(
                400, "bad_parameter", f"{name}: {raw!r} is not an ISO 8601 time"
            ) from None
        if moment.tzinfo is None:
            raise ApiError(400, "bad_parameter", f"{name}: {raw!r} needs a time zone, e.g. Z")
        return moment.astimezone(UTC)

    def flag(self, name: str) -> bool:
        raw = (self.text(name) or "false").lower()
        if raw not in ("true", "false", "1", "0"):
            raise ApiError(400, "bad_parameter", f"{name} must be true or false")
        return raw in ("true", "1")

    def limit(self) -> int:
        raw = self.text("limit")
        if raw is None:
            return DEFAULT_LIMIT
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise ApiError(400, "bad_parameter", f"limit must be a whole number 1..{MAX_LIMIT}")
        return int(raw)

    def choice(self, name: str, choices: Sequence[str]) -> str | None:
        raw = self.text(name)
        if raw is not None and raw not in choices:
            raise ApiError(400, "bad_parameter", f"{name} must be one of {', '.join(choices)}")
        return raw

    def cursor(self) -> str | None:
        raw = self.text("cursor")
        if raw is None:
            return None
        try:
            return base64.urlsafe_b64decode(raw.encode() + b"==").decode()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "bad_parameter", "cursor is not one this API returned") from None


def paginate(
    items: Iterable[T], sort_key: Callable[[T], str], after: str | None, limit: int
) -> tuple[list[T], str | None]:
    """Keyset pagination on a stable key: pages never shift when new items arrive."""
    ordered = sorted(items, key=sort_key)
    if after is not None:
        ordered = [i for i in ordered if sort_key(i) > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    token = (
        base64.urlsafe_b64encode(sort_key(page[-1]).encode()).decode().rstrip("=") if more else None
    )
    return page, token


def page_body(page: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": page, "next_cursor": next_cursor}
