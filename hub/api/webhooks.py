"""``POST /webhooks/{connector}``: signed deliveries from sources, produced at once.

Authenticated by the source's own signature (not the bearer token). A forged or
replayed delivery gets 401 and is never produced; an accepted one is acknowledged by the
broker before we answer 200. Its events carry the same ids the pull path gives, so a
change seen both ways is counted once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from faust.web import Request, Response, View

from connectors.config import InvalidConfigError, build_connector, parse_config
from connectors.webhooks import ReplayGuard, WebhookRejected
from hub.api.errors import ApiError
from hub.codec import encode
from hub.errors import FatalError
from hub.producer import dead_letter_record
from hub.topics import DEADLETTER, topic_for_kind

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register", "MAX_BODY"]

MAX_BODY = 5 * 1024 * 1024


def register(app: HubApp) -> None:
    state = app.connect_state  # type: ignore[attr-defined]
    guard = ReplayGuard()

    @app.page("/webhooks/{name}")
    class Webhook(View):
        async def post(self, request: Request, name: str) -> Response:
            record = state.configs.get(name)
            if record is None:
                raise ApiError(404, "not_found", f"no connector {name!r}")
            if (request.content_length or 0) > MAX_BODY:  # type: ignore[attr-defined]
                raise ApiError(413, "too_large", f"deliveries are limited to {MAX_BODY} bytes")
            body = await request.read()
            try:
                connector = build_connector(parse_config(record["config"]), app.secrets)  # type: ignore[attr-defined]
            except (InvalidConfigError, FatalError) as exc:
                raise ApiError(503, "connector_misconfigured", str(exc)) from None
            if not connector.supports_webhooks:
                raise ApiError(
                    404, "no_webhooks", f"connector type {connector.type_name} takes no webhooks"
                )
            headers = dict(request.headers)
            try:
                signature = await asyncio.to_thread(
                    connector.verify_webhook, request.method, str(request.rel_url), headers, body
                )
                fingerprint = f"{name}:{signature}"
                guard.check(fingerprint)
            except WebhookRejected as exc:
                raise ApiError(401, "bad_signature", str(exc)) from None
            page = await asyncio.to_thread(connector.parse_webhook, headers, body)
            futures = [
                await app.produce(
                    topic_for_kind(e.entity.kind).name, e.entity.stream_key, encode(e)
                )
                for e in page.events
            ]
            for reject in page.rejects:
                letter = dead_letter_record(reject.raw, reject.error, f"webhook:{name}")
                futures.append(await app.produce(DEADLETTER.name, name, letter))
            await asyncio.gather(*futures)
            guard.accepted(fingerprint)
            for e in page.events:
                app.metrics.events_produced.labels(topic_for_kind(e.entity.kind).name).inc()
            return self.json({"accepted": len(page.events), "dead_lettered": len(page.rejects)})
