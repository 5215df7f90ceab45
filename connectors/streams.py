"""Streams: a source endpoint declared, not hand-looped.

A connector declares each endpoint it reads as a ``Stream`` (its path, how it pages, the
field that moves its cursor, its records' key) in ``connectors/<name>/streams.py``, and
reads it with ``stream.pages(client, ...)``. Paging lives here once, in three paginators
that cover every source we speak to: offset (``startAt``), token (``nextPageToken``,
``after``, ``starting_after``, ``cursor``) and link (``nextRecordsUrl``, ``next_page``).
The client (``core.http``) brings authentication, budgets, retries and the one failure
classifier; the connector's ``mapping.py`` turns records into canonical events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from core.http import HttpClient

__all__ = [
    "Fetch",
    "LinkPaginator",
    "OffsetPaginator",
    "Paginator",
    "Stream",
    "TokenPaginator",
    "dig",
]

# (URL the previous page named, or None for the stream's own path; paging parameters) -> body
Fetch = Callable[[str | None, dict[str, Any]], Any]


def dig(body: Any, path: Sequence[str]) -> Any:
    """``body[path[0]][path[1]]...``, or None where any step is missing."""
    for step in path:
        if not isinstance(body, Mapping):
            return None
        body = body.get(step)
    return body


class Paginator(Protocol):
    """Turns a fetch function into (body, records) pages, first to last."""

    def pages(self, fetch: Fetch, start: Any = None) -> Iterator[tuple[Any, list[Any]]]: ...


@dataclass(frozen=True)
class OffsetPaginator:
    """``startAt``/``offset`` style: stop at the total, at a last-page flag, or at an empty page."""

    records: str
    param: str = "startAt"
    total: str | None = "total"
    last: str | None = None

    def pages(self, fetch: Fetch, start: Any = None) -> Iterator[tuple[Any, list[Any]]]:
        offset = int(start or 0)
        while True:
            body = fetch(None, {self.param: offset})
            records = body.get(self.records) or []
            yield body, records
            offset += len(records)
            if not records:
                return
            if self.total is not None and offset >= int(body.get(self.total) or 0):
                return
            if self.last is not None and body.get(self.last, True):
                return


@dataclass(frozen=True)
class TokenPaginator:
    """Cursor/token style: each page names the token of the next.

    ``next`` is the token's path in the body; the pages end when there is none, when the
    ``last`` flag is set (default: set) or when the ``more`` flag is not. ``start`` resumes
    a paging that a crash interrupted.
    """

    records: str
    param: str
    next: tuple[str, ...]
    last: str | None = None
    more: str | None = None

    def pages(self, fetch: Fetch, start: Any = None) -> Iterator[tuple[Any, list[Any]]]:
        token = start
        while True:
            body = fetch(None, {self.param: token} if token else {})
            yield body, body.get(self.records) or []
            token = dig(body, self.next)
            if not token:
                return
            if self.last is not None and body.get(self.last, True):
                return
            if self.more is not None and not body.get(self.more):
                return


@dataclass(frozen=True)
class LinkPaginator:
    """Link style: each page names the URL of the next, until a ``done`` flag or no link."""

    records: str
    next: tuple[str, ...]
    done: str | None = None

    def pages(self, fetch: Fetch, start: Any = None) -> Iterator[tuple[Any, list[Any]]]:
        body = fetch(start, {})
        while True:
            yield body, body.get(self.records) or []
            url = dig(body, self.next)
            if not url or (self.done is not None and body.get(self.done, True)):
                return
            body = fetch(url, {})


@dataclass(frozen=True)
class Stream:
    """One endpoint of a source, read incrementally.

    ``path`` may hold ``{placeholders}`` filled from ``path_args``; ``method`` POST sends
    the parameters and the paging token as the JSON body (search APIs), GET as the query
    string. ``first_only`` names parameters sent until the paginator has a token (a
    ``start_time`` that the source's cursor replaces). ``cursor_field`` is the record
    field the connector's cursor follows, ``key`` the field that identifies a record.
    """

    name: str
    path: str
    paginator: OffsetPaginator | TokenPaginator | LinkPaginator
    key: str = "id"
    cursor_field: str | None = None
    method: Literal["GET", "POST"] = "GET"
    first_only: tuple[str, ...] = ()

    def pages(
        self,
        client: HttpClient,
        params: Mapping[str, Any] | None = None,
        *,
        path_args: Mapping[str, Any] | None = None,
        start: Any = None,
    ) -> Iterator[tuple[Any, list[Any]]]:
        """(body, records) for every page, fetched lazily through ``client``."""
        path = self.path.format(**(path_args or {}))
        base = dict(params or {})

        def fetch(url: str | None, page: dict[str, Any]) -> Any:
            if url is not None:
                return client.get_json(url)
            values = {**base, **page}
            if page:  # a token is paging now: what only the first request carries goes
                for name in self.first_only:
                    values.pop(name, None)
            if self.method == "POST":
                return client.post_json(path, _merge(values))
            return client.get_json(path, params=values)

        return self.paginator.pages(fetch, start)

    def records(
        self, client: HttpClient, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> list[Any]:
        """Every record of every page, for small listings read whole (histories, audits)."""
        return [r for _, records in self.pages(client, params, **kw) for r in records]


def _merge(values: dict[str, Any]) -> dict[str, Any]:
    """Dotted names nest: ``{"pagination.starting_after": t}`` -> ``{"pagination": {...}}``."""
    merged: dict[str, Any] = {}
    for name, value in values.items():
        target = merged
        *parents, leaf = name.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return merged
