"""One aiohttp middleware for every route: bearer auth, JSON errors, latency metrics."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from aiohttp import web

from hub.api.errors import ApiError, error_response

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["hub_middleware", "is_public"]

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PUBLIC_EXACT = {"/health", "/metrics"}
_PUBLIC_PREFIXES = ("/webhooks/",)  # authenticated by the source's own signature


def is_public(path: str) -> bool:
    return path in _PUBLIC_EXACT or path.startswith(_PUBLIC_PREFIXES)


def _authorized(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def hub_middleware(app: HubApp) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response: web.StreamResponse
        if not is_public(request.path) and not _authorized(request, app.api_token):
            response = error_response(401, "unauthorized", "missing or wrong bearer token")
        else:
            try:
                response = await handler(request)
            except ApiError as exc:
                response = error_response(exc.status, exc.code, exc.message, exc.fields)
            except web.HTTPException as exc:
                code = exc.reason.lower().replace(" ", "_")
                response = error_response(exc.status, code, exc.reason)
            except Exception:
                log.exception("api request failed", path=request.path)
                response = error_response(500, "internal", "internal error; see the hub log")
        app.metrics.api_latency.labels(
            request.method, _route_name(request), str(response.status)
        ).observe(time.perf_counter() - started)
        return response

    return middleware
