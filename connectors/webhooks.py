"""Webhook signature checks, one per source's scheme, and a guard against replays.

Every check compares in constant time. Sources that sign a timestamp are held to a
five-minute window; for the others, the guard remembers recent signatures, so the same
delivery sent twice is refused the second time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

from core.errors import HubError

__all__ = [
    "WebhookRejected",
    "ReplayGuard",
    "verify_hub_signature_sha256",
    "verify_hub_signature_sha1",
    "verify_zendesk",
    "verify_hubspot_v3",
    "MAX_AGE_SECONDS",
]

MAX_AGE_SECONDS = 300


class WebhookRejected(HubError):
    """Forged, malformed or replayed: answered with 401 and never produced."""


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    raise WebhookRejected(f"missing {name} header")


def _fresh(timestamp_seconds: float, now: float) -> None:
    if abs(now - timestamp_seconds) > MAX_AGE_SECONDS:
        raise WebhookRejected("delivery timestamp outside the 5-minute window (replayed?)")


def _same(expected: str, given: str) -> None:
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise WebhookRejected("signature does not match")


def verify_hub_signature_sha256(secret: str, headers: Mapping[str, str], body: bytes) -> str:
    """Jira (and our own): ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>``."""
    given = _header(headers, "X-Hub-Signature")
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    _same(f"sha256={digest}", given)
    return given


def verify_hub_signature_sha1(secret: str, headers: Mapping[str, str], body: bytes) -> str:
    """Intercom: ``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>``."""
    given = _header(headers, "X-Hub-Signature")
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    _same(f"sha1={digest}", given)
    return given


def verify_zendesk(
    secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> str:
    """Zendesk: base64 HMAC-SHA256 of (timestamp + body); the timestamp is ISO 8601."""
    from datetime import datetime

    stamp = _header(headers, "X-Zendesk-Webhook-Signature-Timestamp")
    given = _header(headers, "X-Zendesk-Webhook-Signature")
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise WebhookRejected("malformed signature timestamp") from None
    _fresh(when, time.time() if now is None else now)
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    _same(base64.b64encode(digest).decode(), given)
    return given


def verify_hubspot_v3(
    secret: str,
    method: str,
    uri: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> str:
    """HubSpot v3: base64 HMAC-SHA256 of method + URI + body + timestamp (epoch ms)."""
    stamp = _header(headers, "X-HubSpot-Request-Timestamp")
    given = _header(headers, "X-HubSpot-Signature-v3")
    if not stamp.isdigit():
        raise WebhookRejected("malformed request timestamp")
    _fresh(int(stamp) / 1000, time.time() if now is None else now)
    message = method.upper().encode() + uri.encode() + body + stamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    _same(base64.b64encode(digest).decode(), given)
    return given


class ReplayGuard:
    """Refuses a signature seen within ``window`` seconds; bounded memory, thread-safe."""

    def __init__(self, window: float = MAX_AGE_SECONDS * 2, capacity: int = 100_000) -> None:
        self.window, self.capacity = window, capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, signature: str, now: float | None = None) -> None:
        """Refuse a signature already accepted within the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            while self._seen and (
                len(self._seen) > self.capacity
                or next(iter(self._seen.values())) < now - self.window
            ):
                self._seen.popitem(last=False)
            if signature in self._seen:
                raise WebhookRejected("this delivery was already received (replay)")

    def accepted(self, signature: str, now: float | None = None) -> None:
        """Remember a processed delivery; one that failed may be retried by the source."""
        with self._lock:
            self._seen[signature] = time.monotonic() if now is None else now
