"""One aiohttp middleware for every route: bearer auth, JSON errors, latency metrics."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Collection

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from core.metrics import Metrics
from hub.api.errors import ApiError, error_response

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


def hub_middleware(api_token: str, metrics: Metrics, public: Collection[str]) -> Middleware:
    """``public``: the declared paths that need no token (webhooks carry their own
    signatures); every other path, unknown ones included, needs the bearer token."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response: web.StreamResponse
        if _route_name(request) not in public and not _authorized(request, api_token):
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
