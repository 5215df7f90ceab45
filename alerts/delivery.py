"""Delivering notifications: each integration its own queue, retried with backoff.

A slow or dead receiver delays only its own queue, never the evaluation loop or other
receivers. Every attempt's outcome is reported through ``on_result``, which the hub
records (``GET /api/v1/notifications``). Error texts are built here from status codes and
exception types, never from URLs or bodies that may carry a secret.
"""

from __future__ import annotations

import asyncio
import random
import smtplib
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
import structlog

from alerts.config import (
    AlertingConfig,
    ConsoleConfig,
    EmailConfig,
    SlackConfig,
    WebhookConfig,
)
from alerts.digest import digest_html, digest_slack, digest_text
from alerts.dispatch import Notification
from alerts.receivers.email import email_message, mail
from alerts.receivers.slack import slack_message
from alerts.receivers.webhook import webhook_payload
from core.events import iso, utcnow
from core.http import classify
from core.secrets import SecretResolver, is_reference

__all__ = ["Deliverer", "Delivery", "DeliveryFailed", "send", "send_digest", "OnResult"]

log = structlog.get_logger(__name__)


class DeliveryFailed(Exception):
    """``permanent``: retrying the same message will not help (e.g. HTTP 400)."""

    def __init__(self, reason: str, permanent: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after


def _webhook_target(
    integration: WebhookConfig, secrets: SecretResolver
) -> tuple[str, dict[str, str]]:
    """Where a webhook receiver posts to, and with which headers (its token resolved)."""
    url = secrets.resolve(integration.url) if is_reference(integration.url) else integration.url
    headers = {"User-Agent": "product-ops-hub"}
    if integration.bearer_token:
        headers["Authorization"] = f"Bearer {secrets.resolve(integration.bearer_token)}"
    return url, headers


def _post(url: str, headers: dict[str, str] | None, body: Any, timeout: float) -> None:
    try:
        response = requests.post(url, json=body, timeout=timeout, headers=headers)
    except requests.Timeout:
        raise DeliveryFailed(f"no answer within {timeout:g}s") from None
    except requests.RequestException as exc:
        raise DeliveryFailed(f"cannot connect ({type(exc).__name__})") from None
    failure = classify(response)
    if failure is not None:
        raise DeliveryFailed(
            failure.reason, permanent=not failure.retriable, retry_after=failure.retry_after
        )


def _tls_context(config: EmailConfig) -> ssl.SSLContext:
    """Verified by default (smtplib's own default verifies nothing)."""
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    if config.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _send_email(config: EmailConfig, message: Any, secrets: SecretResolver, timeout: float) -> None:
    host, _, port = config.smarthost.rpartition(":")
    try:
        with smtplib.SMTP(host, int(port), timeout=timeout) as smtp:
            smtp.ehlo()
            if config.starttls:
                smtp.starttls(context=_tls_context(config))
                smtp.ehlo()
            if config.username:
                password = secrets.resolve(config.password) if config.password else ""
                smtp.login(config.username, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryFailed(
            f"SMTP authentication refused ({exc.smtp_code})", permanent=True
        ) from None
    except ssl.SSLError as exc:
        raise DeliveryFailed(f"TLS failed ({exc.reason})", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(
            f"SMTP {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP failed ({type(exc).__name__})") from None


def send(
    integration: Any,
    notification: Notification,
    secrets: SecretResolver,
    external_url: str,
    timeout: float,
) -> None:
    """One attempt to deliver; raises ``DeliveryFailed``. Blocking: run it in a thread."""
    if isinstance(integration, SlackConfig):
        _post(
            secrets.resolve(integration.url),
            None,
            slack_message(notification, integration.channel),
            timeout,
        )
    elif isinstance(integration, WebhookConfig):
        body = webhook_payload(notification, external_url, integration.max_alerts)
        _post(*_webhook_target(integration, secrets), body, timeout)
    elif isinstance(integration, EmailConfig):
        message = email_message(notification, integration.from_, integration.to, external_url)
        _send_email(integration, message, secrets, timeout)
    elif isinstance(integration, ConsoleConfig):
        for alert in notification.alerts:
            notes = alert["annotations"]
            team = alert["labels"].get("team", "-")
            print(
                f"ALERT {alert['status'].upper():8} {alert['labels'].get('severity', ''):8} "
                f"team={team} {notes.get('summary', '')}",
                file=sys.stdout,
                flush=True,
            )
    else:  # pragma: no cover - the config model admits no other kind
        raise DeliveryFailed(f"unknown integration {type(integration).__name__}", permanent=True)


def send_digest(
    integration: Any, digest: dict[str, Any], secrets: SecretResolver, timeout: float
) -> None:
    """One attempt to deliver a digest, in the integration's own format."""
    if isinstance(integration, SlackConfig):
        _post(secrets.resolve(integration.url), None, digest_slack(digest), timeout)
    elif isinstance(integration, WebhookConfig):
        _post(*_webhook_target(integration, secrets), {"version": "digest/1", **digest}, timeout)
    elif isinstance(integration, EmailConfig):
        text = digest_text(digest)
        subject = text.split("\n", 1)[0]
        message = mail(subject, integration.from_, integration.to, text, digest_html(digest))
        _send_email(integration, message, secrets, timeout)
    elif isinstance(integration, ConsoleConfig):
        print(digest_text(digest), file=sys.stdout, flush=True)


@dataclass
class Delivery:
    """One message for one integration. ``key`` is its group (or digest) key."""

    id: str
    kind: str  # notification | digest
    receiver: str
    integration: str
    key: str
    attempt: Callable[[], None]  # blocking; raises DeliveryFailed
    details: dict[str, Any] = field(default_factory=dict)
    first_attempt_at: str = ""
    attempts: int = 0


OnResult = Callable[[Delivery, dict[str, Any]], Awaitable[None]]


class Deliverer:
    """Per-integration queues and workers; ``in_flight`` is what the dispatcher must not
    plan again until it is delivered or given up."""

    def __init__(
        self,
        config: AlertingConfig,
        on_result: OnResult,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.on_result = on_result
        self.clock = clock
        self.in_flight: set[tuple[str, str]] = set()
        self._queues: dict[tuple[str, str], asyncio.Queue[Delivery]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def submit(self, delivery: Delivery) -> None:
        lane = (delivery.receiver, delivery.integration)
        queue = self._queues.get(lane)
        if queue is None:
            queue = self._queues[lane] = asyncio.Queue()
            self._tasks.append(asyncio.create_task(self._work(queue), name=f"deliver {lane}"))
        self.in_flight.add((delivery.key, delivery.integration))
        delivery.first_attempt_at = iso(self.clock())
        queue.put_nowait(delivery)

    @property
    def queued(self) -> int:
        return sum(q.qsize() for q in self._queues.values())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._queues.clear()
        self.in_flight.clear()

    async def _work(self, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(delivery)
            finally:
                self.in_flight.discard((delivery.key, delivery.integration))

    def _record(self, delivery: Delivery, status: str, error: str | None = None) -> dict[str, Any]:
        return {
            "id": delivery.id,
            "kind": delivery.kind,
            "receiver": delivery.receiver,
            "integration": delivery.integration,
            "key": delivery.key,
            "status": status,
            "attempts": delivery.attempts,
            "first_attempt_at": delivery.first_attempt_at,
            "updated_at": iso(self.clock()),
            "last_error": error,
            **delivery.details,
        }

    async def _deliver(self, delivery: Delivery) -> None:
        settings = self.config.delivery
        timeout = settings.timeout.total_seconds()
        started = time.monotonic()
        backoff = settings.backoff_initial.total_seconds()
        while True:
            delivery.attempts += 1
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can lose a cancel
                # that lands as the attempt finishes, and close() then waited forever.
                async with asyncio.timeout(timeout + 5):
                    await asyncio.to_thread(delivery.attempt)
            except (DeliveryFailed, TimeoutError) as exc:
                reason = str(exc) or "timed out"
                permanent = isinstance(exc, DeliveryFailed) and exc.permanent
                given_up = time.monotonic() - started >= settings.give_up_after.total_seconds()
                status = "failed" if permanent or given_up else "retrying"
                log.warning(
                    "notification not delivered",
                    receiver=delivery.receiver,
                    integration=delivery.integration,
                    attempt=delivery.attempts,
                    reason=reason,
                    status=status,
                )
                await self.on_result(delivery, self._record(delivery, status, reason))
                if status == "failed":
                    return
                wait = exc.retry_after if isinstance(exc, DeliveryFailed) else None
                await asyncio.sleep(wait or backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, settings.backoff_max.total_seconds())
                continue
            except Exception as exc:  # a bug in a sender must not kill the lane
                log.exception("notification sender crashed", integration=delivery.integration)
                await self.on_result(delivery, self._record(delivery, "failed", type(exc).__name__))
                return
            await self.on_result(delivery, self._record(delivery, "delivered"))
            return
