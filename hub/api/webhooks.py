"""``POST /webhooks/{connector}``: signed deliveries from sources, produced at once.

Authenticated by the source's own signature (not the bearer token). A forged or
replayed delivery gets 401 and is never produced; an accepted one is acknowledged by the
broker before we answer 200. Its events carry the same ids the pull path gives, so a
change seen both ways is counted once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiohttp import web

from connectors.base import Page, Reject
from connectors.config import InvalidConfigError, build_connector, parse_config
from connectors.webhooks import WebhookRejected
from core.errors import ConfigError, FatalError, HubError
from core.logging import scrub
from core.publish import dead_letter_record, event_record
from core.topics import DEADLETTER
from hub.api.declare import Call, Routes
from hub.api.declare import path as path_param
from hub.api.errors import ApiError

__all__ = ["ROUTES", "MAX_BODY", "READ_BACK_BUDGET"]

ROUTES = Routes("webhooks")
log = structlog.get_logger(__name__)

MAX_BODY = 5 * 1024 * 1024
# Sources wait seconds, not minutes, for an answer; past this, say 503 and let them retry.
READ_BACK_BUDGET = 10.0


def _signed_uri(request: web.Request, public_url: str | None) -> str:
    """The URL the source called, as it signs it (HubSpot v3 signs the full URL): the
    configured public URL when the hub sits behind a proxy, else what the request says."""
    if public_url:
        return public_url.rstrip("/") + str(request.rel_url)
    return str(request.url)


@ROUTES.post(
    "/webhooks/{name}",
    "A source's signed webhook delivery (authenticated by its signature, not the token)",
    params=(path_param("name", "Connector name."),),
    public=True,
    any_query=True,
    responses={
        401: "The signature is wrong or the delivery was seen before",
        413: "The body is over the size limit",
        503: "The source could not be read back; it will retry the delivery",
    },
)
async def webhook(call: Call) -> Any:
    request, name, services = call.request, call.args["name"], call.services
    state, guard = services.connect_state, services.webhook_guard
    public_url = services.settings.public_url
    record = state.configs.get(name)
    if record is None:
        raise ApiError(404, "not_found", f"no connector {name!r}")
    if (request.content_length or 0) > MAX_BODY:
        raise ApiError(413, "too_large", f"deliveries are limited to {MAX_BODY} bytes")
    body = await request.read()
    try:
        connector = build_connector(parse_config(record["config"]), services.secrets)
    except (InvalidConfigError, FatalError) as exc:
        raise ApiError(503, "connector_misconfigured", str(exc)) from None
    if not connector.supports_webhooks:
        raise ApiError(
            404, "no_webhooks", f"connector type {connector.type_name} takes no webhooks"
        )
    headers = dict(request.headers)
    try:
        signature = await asyncio.to_thread(
            connector.verify_webhook,
            request.method,
            _signed_uri(request, public_url),
            headers,
            body,
        )
        fingerprint = f"{name}:{signature}"
        guard.check(fingerprint)
    except WebhookRejected as exc:
        raise ApiError(401, "bad_signature", str(exc)) from None
    except ConfigError as exc:  # e.g. the webhook secret's file is not mounted here
        raise ApiError(503, "connector_misconfigured", scrub(str(exc))) from None
    try:
        page = await asyncio.wait_for(
            asyncio.to_thread(connector.parse_webhook, headers, body), READ_BACK_BUDGET
        )
    except TimeoutError:
        raise ApiError(
            503,
            "source_unavailable",
            f"{connector.type_name} did not answer the read-back within "
            f"{READ_BACK_BUDGET:g}s; the source will retry the delivery",
        ) from None
    except HubError as exc:  # reading the change back from the source failed
        raise ApiError(
            503,
            "source_unavailable",
            f"could not read the change back from {connector.type_name}: {scrub(str(exc))}",
        ) from None
    except Exception as exc:  # a mapping bug: keep the delivery, say so, go on
        log.exception("webhook could not be processed", connector=name)
        reason = f"webhook could not be processed: {type(exc).__name__}: {exc}"
        page = Page([], {}, [Reject(body.decode("utf-8", errors="replace"), reason)])
    letters = [
        (DEADLETTER.name, name, dead_letter_record(r.raw, r.error, f"webhook:{name}"))
        for r in page.rejects
    ]
    publisher = services.publisher.with_origin("webhook")
    await publisher.publish([*(event_record(e) for e in page.events), *letters])
    guard.accepted(fingerprint)
    return {"accepted": len(page.events), "dead_lettered": len(page.rejects)}
