"""What every connector test does: pull everything from a cursor, refusing dead letters."""

from __future__ import annotations

from typing import Any

from connectors.base import Connector
from core.events import Event

__all__ = ["pull_all", "pull_pages"]


def pull_pages(
    c: Connector, cursor: dict[str, Any] | None = None
) -> tuple[list[Event], list[dict[str, Any]]]:
    """Every event of one pull, and the cursor after each page; no page may reject a record."""
    events: list[Event] = []
    cursors: list[dict[str, Any]] = []
    for page in c.pull(cursor):
        assert not page.rejects, page.rejects
        events.extend(page.events)
        cursors.append(page.cursor)
    return events, cursors


def pull_all(
    c: Connector, cursor: dict[str, Any] | None = None
) -> tuple[list[Event], dict[str, Any]]:
    """Every event of one pull and the cursor it ends on."""
    events, cursors = pull_pages(c, cursor)
    assert cursors, "a pull yields at least one page"
    return events, cursors[-1]
