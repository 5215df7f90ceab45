"""The one HTTP client every connector uses: timeouts, retries, rate limits, paging.

Failures are classified in one place, by what the caller should do (singer-sdk style):
429 and 5xx and connection errors are retried with backoff (honouring ``Retry-After`` in
seconds or as an HTTP date, and the source's own reset headers); 401 is retried once
after ``on_unauthorized`` refreshes credentials; any other 4xx is fatal, with the
source's own message. A token bucket keeps a backfill under the source's rate limit.
Authorization headers are never logged, and secret values are scrubbed from messages.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import structlog

from core.errors import FatalError, RetriableError
from core.logging import scrub

__all__ = [
    "HttpClient",
    "TokenBucket",
    "RetryPolicy",
    "retry_after_seconds",
    "HttpError",
    "paginate_offset",
    "paginate_token",
    "paginate_link",
]

log = structlog.get_logger(__name__)


class HttpError(FatalError):
    """The source refused the request for a reason retrying will not fix."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


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
            status = response.status_code
            if status < 400:
                return response
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
            if status == 429 or status >= 500:
                waited = retry_after_seconds(response.headers)
                delay = waited if waited is not None else self.policy.backoff(attempt)
                delay = min(delay, self.policy.max_delay)
                last_problem = f"HTTP {status}"
                log.warning(
                    "source asked us to wait" if status == 429 else "source error; retrying",
                    url=_safe_url(url),
                    status=status,
                    in_seconds=round(delay, 2),
                )
                self.sleep(delay)
                continue
            raise HttpError(
                f"{method} {_safe_url(url)}: HTTP {status}: {_excerpt(response)}", status
            )
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
    return scrub(response.text[:limit].replace("\n", " "))


def paginate_offset(
    fetch: Callable[[int], Any],
    items_of: Callable[[Any], list[Any]],
    total_of: Callable[[Any], int | None],
) -> Iterator[tuple[Any, list[Any]]]:
    """``startAt``/``offset`` style: stop at the total, or at a short or empty page."""
    offset = 0
    while True:
        body = fetch(offset)
        items = items_of(body)
        yield body, items
        offset += len(items)
        total = total_of(body)
        if not items or (total is not None and offset >= total):
            return


def paginate_token(
    fetch: Callable[[str | None], Any],
    items_of: Callable[[Any], list[Any]],
    next_of: Callable[[Any], str | None],
) -> Iterator[tuple[Any, list[Any]]]:
    """Cursor/token style (``nextPageToken``, ``after``, ``starting_after``)."""
    token: str | None = None
    while True:
        body = fetch(token)
        yield body, items_of(body)
        token = next_of(body)
        if not token:
            return


def paginate_link(
    first: str,
    fetch: Callable[[str], Any],
    items_of: Callable[[Any], list[Any]],
    next_of: Callable[[Any], str | None],
) -> Iterator[tuple[Any, list[Any]]]:
    """Link style: each page names the URL of the next (``nextRecordsUrl``, ``after_url``)."""
    url: str | None = first
    while url:
        body = fetch(url)
        yield body, items_of(body)
        url = next_of(body)
