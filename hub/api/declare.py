"""Route declarations: one place says a route's method, path, parameters and responses.

The same declaration mounts the handler, parses and checks its parameters (400 with the
reason when wrong, unknown ones included), and becomes its entry in the OpenAPI document
(``hub.api.openapi``), so the document cannot drift from what is served. Handlers receive
a ``Call``: the parsed parameters, the request and the worker's typed services.
"""

from __future__ import annotations

import base64
import bisect
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pydantic_core
from aiohttp import web
from pydantic import BaseModel

from hub.api.errors import ApiError
from hub.api.tabular import CSV, preferred, to_csv

if TYPE_CHECKING:
    from hub.services import Services

__all__ = [
    "AS_OF",
    "CURSOR",
    "LIMIT",
    "Call",
    "Param",
    "Reply",
    "Route",
    "Routes",
    "choice",
    "flag",
    "integer",
    "page_body",
    "paginate",
    "path",
    "text",
    "time",
    "window",
]

Where = Literal["query", "path"]
T = TypeVar("T")
CURSOR_PATTERN = re.compile(r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$")  # base64url
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Param:
    """One parameter: how it is documented (``schema``) and how it is read (``parse``)."""

    name: str
    schema: dict[str, Any]
    parse: Callable[[str, str], Any]
    description: str = ""
    where: Where = "query"
    default: Any = None

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.where,
            "required": self.where == "path",
            "description": self.description,
            "schema": self.schema,
        }


def _as_text(_name: str, raw: str) -> str:
    return raw


def _as_time(name: str, raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError(400, "bad_parameter", f"{name}: {raw!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ApiError(400, "bad_parameter", f"{name}: {raw!r} needs a time zone, e.g. Z")
    return moment.astimezone(UTC)


def _as_flag(name: str, raw: str) -> bool:
    if raw.lower() not in ("true", "false", "1", "0"):
        raise ApiError(400, "bad_parameter", f"{name} must be true or false")
    return raw.lower() in ("true", "1")


def _as_cursor(_name: str, raw: str) -> str:
    """The page's lower bound. Any string the documented pattern allows is a position in
    the key order, so any such cursor pages on; only malformed ones are refused."""
    if not CURSOR_PATTERN.fullmatch(raw):
        raise ApiError(400, "bad_parameter", "cursor is not one this API returned")
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode(errors="replace")


def text(name: str, description: str = "") -> Param:
    return Param(name, {"type": "string", "minLength": 1}, _as_text, description)


def path(name: str, description: str = "") -> Param:
    return Param(name, {"type": "string", "minLength": 1}, _as_text, description, where="path")


def time(name: str, description: str = "") -> Param:
    return Param(name, {"type": "string", "format": "date-time"}, _as_time, description)


def flag(name: str, description: str = "") -> Param:
    return Param(name, {"type": "boolean"}, _as_flag, description, default=False)


def choice(name: str, choices: Sequence[str], description: str = "") -> Param:
    def parse(param: str, raw: str) -> str:
        if raw not in choices:
            raise ApiError(400, "bad_parameter", f"{param} must be one of {', '.join(choices)}")
        return raw

    return Param(name, {"type": "string", "enum": list(choices)}, parse, description)


def integer(name: str, low: int, high: int, default: int, description: str = "") -> Param:
    def parse(param: str, raw: str) -> int:
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise ApiError(400, "bad_parameter", f"{param} must be a whole number {low}..{high}")
        return int(raw)

    schema = {"type": "integer", "minimum": low, "maximum": high, "default": default}
    return Param(name, schema, parse, description, default=default)


AS_OF = time(
    "as_of", "ISO 8601 time with zone: the answer as it stood then, rebuilt from the event log."
)
LIMIT = integer("limit", 1, MAX_LIMIT, DEFAULT_LIMIT, "Page size.")
CURSOR = Param(
    "cursor",
    {"type": "string", "minLength": 2, "pattern": CURSOR_PATTERN.pattern},
    _as_cursor,
    "next_cursor of the previous page.",
)


@dataclass(frozen=True)
class Reply:
    """A handler's answer when it is not a plain 200 JSON body."""

    body: Any
    status: int = 200


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: parameters parsed, services at hand."""

    request: web.Request
    services: Services
    args: dict[str, Any]

    async def text(self) -> str:
        """The body as UTF-8 text; anything else is the client's error (400)."""
        raw = await self.request.read()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, "bad_body", f"request body is not UTF-8: {exc.reason}") from None

    async def json(self) -> Any:
        try:
            return pydantic_core.from_json(await self.text())
        except ValueError as exc:
            raise ApiError(400, "bad_json", f"request body is not JSON: {exc}") from None


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    """A declared operation; see ``Routes`` for the meaning of each field."""

    method: str
    path: str
    summary: str
    handler: Handler
    params: tuple[Param, ...] = ()
    response: type[BaseModel] | None = None
    status: int = 200
    responses: dict[int, str] = field(default_factory=dict)
    body: type[BaseModel] | None = None
    body_types: tuple[str, ...] = ("application/json",)
    public: bool = False
    media_type: str = "application/json"
    any_query: bool = False  # webhooks: the source decides its query string, and signs it
    tag: str = ""  # the declaring module's concept; groups the operation in the document
    page: bool = False  # the dashboard's: session cookie, HTML errors, not in the document

    def _args(self, request: web.Request) -> dict[str, Any]:
        query = self.query_params()
        unknown = sorted(set(request.query) - {p.name for p in query})
        if unknown and not self.any_query:
            allowed = ", ".join(sorted(p.name for p in query)) or "none"
            raise ApiError(
                400,
                "bad_parameter",
                f"unknown parameter(s) {', '.join(unknown)}; allowed: {allowed}",
            )
        args: dict[str, Any] = {}
        for param in self.params:
            raw = (request.match_info if param.where == "path" else request.query).get(param.name)
            if raw is None:
                args[param.name] = param.default
            elif raw == "" and self.page:
                args[param.name] = param.default  # a form's "any" choice: not filtered
            elif raw == "":
                raise ApiError(400, "bad_parameter", f"{param.name} is empty; leave it out instead")
            else:
                args[param.name] = param.parse(param.name, raw)
        return args

    def query_params(self) -> list[Param]:
        return [p for p in self.params if p.where == "query"]

    @property
    def lists(self) -> bool:
        """A list operation: its answer is a page of ``items``, so it also answers CSV."""
        fields = self.response.model_fields if self.response else {}
        return "items" in fields and "next_cursor" in fields

    def _media(self, request: web.Request) -> str:
        """JSON, or CSV when a list operation's client prefers it (``Accept``)."""
        accept = request.headers.get("Accept", "")
        if not self.lists:
            if CSV in accept.lower() and preferred(accept, ("application/json",)) is None:
                raise ApiError(406, "not_acceptable", "only list operations answer text/csv")
            return "application/json"
        return preferred(accept, ("application/json", CSV)) or "application/json"

    def bind(self, services: Services) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The aiohttp handler: parse, call, and render what the handler returned."""

        async def handle(request: web.Request) -> web.StreamResponse:
            media = self._media(request) if self.media_type == "application/json" else ""
            result = await self.handler(Call(request, services, self._args(request)))
            if isinstance(result, web.StreamResponse):
                return result
            reply = result if isinstance(result, Reply) else Reply(result, self.status)
            if media == CSV:
                return _csv_response(request, reply)
            return web.Response(
                body=pydantic_core.to_json(reply.body),
                status=reply.status,
                content_type="application/json",
            )

        return handle


def _csv_response(request: web.Request, reply: Reply) -> web.Response:
    """The page's items as CSV; the next page's address in a ``Link`` header (RFC 8288)."""
    response = web.Response(
        text=to_csv(reply.body["items"]), status=reply.status, content_type=CSV, charset="utf-8"
    )
    token = reply.body.get("next_cursor")
    if token:
        following = request.rel_url.update_query(cursor=token)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


class Routes:
    """A module's routes. ``@ROUTES.get(path, summary, ...)`` declares one:

    ``params`` are the query and path parameters; ``response`` the 200 body's model (none:
    any JSON object); ``status`` the success status; ``responses`` further statuses the
    route answers with their meaning; ``body`` the request body's model and
    ``body_types`` its media types; ``public`` routes need no token; ``media_type`` is
    the success body's type; ``any_query`` accepts query parameters it does not declare.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.routes: list[Route] = []

    def _declare(self, method: str, route_path: str, summary: str, **options: Any) -> Any:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, route_path, summary, handler, tag=self.tag, **options))
            return handler

        return register

    def get(self, route_path: str, summary: str, **options: Any) -> Any:
        return self._declare("GET", route_path, summary, **options)

    def put(self, route_path: str, summary: str, **options: Any) -> Any:
        return self._declare("PUT", route_path, summary, **options)

    def post(self, route_path: str, summary: str, **options: Any) -> Any:
        return self._declare("POST", route_path, summary, **options)

    def delete(self, route_path: str, summary: str, **options: Any) -> Any:
        return self._declare("DELETE", route_path, summary, **options)


def paginate(
    items: Iterable[T],
    sort_key: Callable[[T], str],
    after: str | None,
    limit: int,
    *,
    presorted: bool = False,
) -> tuple[list[T], str | None]:
    """Keyset pagination on a stable key: pages never shift when new items arrive.
    ``presorted``: ``items`` is a list already in key order (an index's), so the page is
    found by bisection instead of a sort and a scan."""
    if presorted and isinstance(items, list):
        start = bisect.bisect_right(items, after, key=sort_key) if after is not None else 0
        page = items[start : start + limit]
        more = len(items) - start > limit
    else:
        ordered = sorted(items, key=sort_key)
        if after is not None:
            ordered = [i for i in ordered if sort_key(i) > after]
        page = ordered[:limit]
        more = len(ordered) > limit
    token = (
        base64.urlsafe_b64encode(sort_key(page[-1]).encode()).decode().rstrip("=") if more else None
    )
    return page, token


MAX_WINDOW_WEEKS = 53


def window(
    args: dict[str, Any], now: datetime, weeks: int, *, up_to_now: bool = True
) -> tuple[datetime, datetime]:
    """The ``from``/``to`` window of a query: ``to`` defaults to ``now`` (and is capped at
    it when ``up_to_now``), ``from`` to ``weeks`` before ``to``; at most a year."""
    end = args["to"] or now
    if up_to_now:
        end = min(end, now)
    try:
        start = args["from"] or end - timedelta(weeks=weeks)
    except OverflowError:  # a "to" in the first weeks of year 1
        raise ApiError(400, "bad_parameter", "to is too early to look back from") from None
    if start >= end:
        raise ApiError(400, "bad_parameter", "from must be before to (and before as_of)")
    if end - start > timedelta(weeks=MAX_WINDOW_WEEKS):
        raise ApiError(400, "bad_parameter", f"at most {MAX_WINDOW_WEEKS} weeks per request")
    return start, end


def page_body(page: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": page, "next_cursor": next_cursor}
