"""The hub's one HTTP layer: the client connectors use, and the failure classifier that
alert delivery shares with it.

Failures are classified in one place (``classify``), by what the caller should do
(singer-sdk style): 408, 425, 429 and 5xx and connection errors are retried with backoff
(honouring ``Retry-After`` in seconds or as an HTTP date, and the source's own reset
headers); 401 is retried once after ``on_unauthorized`` refreshes credentials; any other
4xx is fatal, with the source's own message. A token bucket keeps a backfill under the
source's rate limit. Authorization headers are never logged, and secret values are
scrubbed from messages.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import structlog

from core.errors import FatalError, RetriableError
from core.logging import scrub

__all__ = [
    "Failure",
    "HttpClient",
    "HttpError",
    "RetryPolicy",
    "TokenBucket",
    "classify",
    "retry_after_seconds",
]

log = structlog.get_logger(__name__)


class HttpError(FatalError):
    """The source refused the request for a reason retrying will not fix."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


RETRIABLE_STATUSES = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class Failure:
    """An answer that is not a success, and what to do about it."""

    status: int
    retriable: bool
    retry_after: float | None  # what the server asked for, when it said
    reason: str  # "HTTP 503: <excerpt>", secrets scrubbed

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


def classify(response: requests.Response) -> Failure | None:
    """``None`` for a success; otherwise whether a retry can help and how long to wait."""
    status = response.status_code
    if status < 400:
        return None
    retriable = status in RETRIABLE_STATUSES or status >= 500
    detail = _excerpt(response)
    return Failure(
        status=status,
        retriable=retriable,
        retry_after=retry_after_seconds(response.headers) if retriable else None,
        reason=f"HTTP {status}" + (f": {detail}" if detail else ""),
    )


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date) or reset headers."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.replace(".", "", 1).isdigit():
            return float(value)
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return max(0.0, moment.timestamp() - now)
    reset = headers.get("X-RateLimit-Reset")  # Jira Cloud: an ISO time; others: epoch seconds
    if reset:
        reset = reset.strip()
        if reset.isdigit():
            number = float(reset)
            return max(0.0, number - now) if number > 1e9 else number
        try:
            return max(0.0, datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp() - now)
        except ValueError:
            pass
    interval = headers.get("X-RateLimit-Interval-Seconds")  # Jira Data Center
    return float(interval) if interval and interval.isdigit() else None


class TokenBucket:
    """``rate`` requests a second on average, bursts of up to ``burst``; thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst = rate, burst
        self._tokens = float(burst)
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a token, sleeping until one is there; returns the seconds slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            self._tokens -= 1
            if wait:
                self._sleep(wait)
            return wait


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0
    timeout: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass
class HttpClient:
    """A requests session bound to one source: base URL, auth, budget and retry policy."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    auth: Any = None
    bucket: TokenBucket | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    on_unauthorized: Callable[[HttpClient], bool] | None = None
    # A source's own rule for a response that must not be retried (e.g. a daily cap's 429).
    refuse: Callable[[requests.Response], str | None] | None = None
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    requests_made: int = 0

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = (
            path
            if path.startswith(("http://", "https://"))
            else self.base_url.rstrip("/") + "/" + path.lstrip("/")
        )
        refreshed = False
        last_problem = ""
        for attempt in range(self.policy.attempts):
            if self.bucket:
                self.bucket.acquire()
            self.requests_made += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=self.headers,
                    auth=self.auth,
                    timeout=self.policy.timeout,
                    **kwargs,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_problem = f"{type(exc).__name__}"
                delay = self.policy.backoff(attempt)
                log.warning(
                    "request failed; retrying",
                    url=_safe_url(url),
                    problem=last_problem,
                    in_seconds=round(delay, 2),
                )
                self.sleep(delay)
                continue
            failure = classify(response)
            if failure is None:
                return response
            status = failure.status
            if (
                status == 401
                and not refreshed
                and self.on_unauthorized
                and self.on_unauthorized(self)
            ):
                refreshed = True
                continue
            reason = self.refuse(response) if self.refuse else None
            if reason:
                raise HttpError(f"{method} {_safe_url(url)}: HTTP {status}: {reason}", status)
            if failure.retriable:
                waited = failure.retry_after
                delay = waited if waited is not None else self.policy.backoff(attempt)
                delay = min(delay, self.policy.max_delay)
                last_problem = f"HTTP {status}"
                log.warning(
                    "source asked us to wait" if failure.rate_limited else "source error; retrying",
                    url=_safe_url(url),
                    status=status,
                    in_seconds=round(delay, 2),
                )
                self.sleep(delay)
                continue
            raise HttpError(f"{method} {_safe_url(url)}: {failure.reason}", status)
        raise RetriableError(
            f"{method} {_safe_url(url)}: gave up after {self.policy.attempts} "
            f"attempts ({last_problem})"
        )

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return _json(self.request("GET", path, **kwargs))

    def post_json(self, path: str, body: Any, **kwargs: Any) -> Any:
        return _json(self.request("POST", path, json=body, **kwargs))


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RetriableError(
            f"{_safe_url(response.url)}: response was not JSON "
            f"(truncated or an error page): {_excerpt(response)}"
        ) from None


def _safe_url(url: str) -> str:
    return scrub(url.split("?", 1)[0])


def _excerpt(response: requests.Response, limit: int = 300) -> str:
    return scrub(response.text[:limit].replace("\n", " ").strip())
