"""One aiohttp middleware for every route: auth, errors in the route's kind, latency metrics.

API routes: bearer token, JSON errors. Dashboard pages: session cookie (a browser without
one is sent to sign in), a CSRF token on every state change, errors as readable pages.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Collection
from urllib.parse import quote

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from core.metrics import Metrics
from hub.api.errors import ApiError, error_response
from hub.dashboard.render import error_page, see_other
from hub.dashboard.session import ABSOLUTE_SECONDS, SESSION_COOKIE, SessionKeys

__all__ = ["hub_middleware"]

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _authorized(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
API_PREFIXES = ("/api/", "/webhooks/", "/health", "/metrics")


def _is_page(request: web.Request, pages: Collection[str]) -> bool:
    """A dashboard page, or an unknown path a browser asked for (not the API's)."""
    name = _route_name(request)
    return name in pages or (name == "unmatched" and not request.path.startswith(API_PREFIXES))


async def _page(
    request: web.Request, handler: Handler, sessions: SessionKeys, public: bool
) -> web.StreamResponse:
    """A dashboard request: signed in and CSRF-checked unless public; errors as pages."""
    session = None
    response: web.StreamResponse
    if not public:
        session = sessions.open(request.cookies.get(SESSION_COOKIE))
        if session is None:
            if request.method in SAFE_METHODS:
                target = f"/signin?next={quote(request.path_qs, safe='/')}"
                return see_other(target)
            response = error_page(401, "Your session has ended: sign in again.", False)
            response.headers["HX-Redirect"] = "/signin"
            return response
        if request.method not in SAFE_METHODS:
            given = request.headers.get("X-CSRF-Token")
            if given is None and request.content_type in FORM_TYPES:
                field = (await request.post()).get("csrf_token")
                given = field if isinstance(field, str) else None
            if not sessions.csrf_ok(session, given):
                return error_page(
                    403, "This form did not come from this page: reload it and try again."
                )
        request["session"] = session
    try:
        response = await handler(request)
    except ApiError as exc:
        response = error_page(exc.status, exc.message, session is not None)
    except web.HTTPRedirection as exc:
        location = exc.headers.get("Location", "/")
        response = web.Response(status=exc.status, headers={"Location": location})
    except web.HTTPException as exc:
        response = error_page(exc.status, exc.reason, session is not None)
    except Exception:
        log.exception("page failed", path=request.path)
        message = "Something went wrong on the hub's side; its log has the details."
        response = error_page(500, message, session is not None)
    if session is not None and (touched := sessions.touch(session)) is not None:
        sessions.set_cookie(
            request, response, SESSION_COOKIE, sessions.seal(touched), ABSOLUTE_SECONDS
        )
    return response


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def hub_middleware(
    api_token: str,
    metrics: Metrics,
    public: Collection[str],
    pages: Collection[str] = (),
    sessions: SessionKeys | None = None,
) -> Middleware:
    """``public``: the declared paths that need no token (webhooks carry their own
    signatures); every other API path, unknown ones included, needs the bearer token.
    ``pages``: the dashboard's paths, signed in with ``sessions``' cookies instead."""
    keys = sessions or SessionKeys(api_token)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response: web.StreamResponse
        if _is_page(request, pages):
            # an unknown path is a 404 page for anyone: it reveals nothing to sign in for
            open_page = _route_name(request) in public or _route_name(request) == "unmatched"
            response = await _page(request, handler, keys, open_page)
        elif _route_name(request) not in public and not _authorized(request, api_token):
            response = error_response(401, "unauthorized", "missing or wrong bearer token")
        else:
            try:
                response = await handler(request)
            except ApiError as exc:
                response = error_response(exc.status, exc.code, exc.message, exc.fields)
            except web.HTTPException as exc:  # the router's 404 and 405, in our error shape
                code = exc.reason.lower().replace(" ", "_")
                response = error_response(exc.status, code, exc.reason)
                if "Allow" in exc.headers:  # RFC 9110: a 405 names the methods that work
                    response.headers["Allow"] = exc.headers["Allow"]
            except Exception:
                log.exception("api request failed", path=request.path)
                response = error_response(500, "internal", "internal error; see the hub log")
        metrics.api_latency.labels(
            request.method, _route_name(request), str(response.status)
        ).observe(time.perf_counter() - started)
        return response

    return middleware
