"""The shared HTTP client against a real local server: retries, rate limits, auth, paging."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from core.errors import RetriableError
from core.http import (
    HttpClient,
    HttpError,
    RetryPolicy,
    TokenBucket,
    classify,
    retry_after_seconds,
)
from emulators.http_server import EmulatorServer, Reply, Request


def scripted(*replies: Reply) -> EmulatorServer:
    queue = list(replies)
    return EmulatorServer({("GET", "/x"): lambda r: queue.pop(0) if len(queue) > 1 else queue[0]})


def client(url: str, sleeps: list[float], **kw: object) -> HttpClient:
    return HttpClient(
        base_url=url,
        policy=RetryPolicy(attempts=4, base_delay=0.01, timeout=5),
        sleep=sleeps.append,
        **kw,
    )  # type: ignore[arg-type]


def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    """Two 503s then 200: three requests, two backoff sleeps, the JSON returned."""
    sleeps: list[float] = []
    with scripted(Reply(503, {}), Reply(503, {}), Reply(200, {"ok": 1})) as server:
        assert client(server.url, sleeps).get_json("/x") == {"ok": 1}
        assert len(server.requests) == 3 and len(sleeps) == 2


def test_429_honours_retry_after_in_seconds_and_as_an_http_date() -> None:
    """Retry-After: 7 waits 7 s; an HTTP date waits until then."""
    sleeps: list[float] = []
    future = formatdate(timeval=__import__("time").time() + 30, usegmt=True)
    with scripted(
        Reply(429, {}, {"Retry-After": "7"}),
        Reply(429, {}, {"Retry-After": future}),
        Reply(200, {}),
    ) as server:
        client(server.url, sleeps).get_json("/x")
    assert sleeps[0] == 7.0
    assert 25 < sleeps[1] <= 30


def test_source_specific_reset_headers() -> None:
    """Jira Cloud's X-RateLimit-Reset (ISO time) and Data Center's interval header count too."""
    assert (
        retry_after_seconds({"X-RateLimit-Reset": "2026-01-01T00:00:10Z"}, now=1767225600.0) == 10.0
    )
    assert retry_after_seconds({"X-RateLimit-Interval-Seconds": "4"}) == 4.0
    assert retry_after_seconds({}) is None


def test_a_429_storm_gives_up_with_a_retriable_error() -> None:
    """Past the attempt budget the caller gets RetriableError, not a hang."""
    sleeps: list[float] = []
    with scripted(Reply(429, {}, {"Retry-After": "1"})) as server:
        with pytest.raises(RetriableError, match="gave up after 4 attempts"):
            client(server.url, sleeps).get_json("/x")
    assert sleeps == [1.0, 1.0, 1.0, 1.0]


def test_other_4xx_is_fatal_with_the_sources_message_and_no_secret() -> None:
    """A 400 is not retried; the message carries the source's words, scrubbed of secrets."""
    from core.logging import register_secret

    register_secret("s3cret-token-value")
    sleeps: list[float] = []
    with scripted(Reply(400, {"errorMessages": ["bad JQL near s3cret-token-value"]})) as server:
        with pytest.raises(HttpError) as info:
            client(server.url, sleeps).get_json("/x", params={"token": "s3cret-token-value"})
    assert info.value.status == 400 and "bad JQL" in str(info.value)
    assert "s3cret-token-value" not in str(info.value) and not sleeps


def test_401_refreshes_credentials_once() -> None:
    """On 401 the refresh hook runs once and the request is repeated with new headers."""

    def answer(request: Request) -> Reply:
        ok = request.headers.get("Authorization") == "Bearer new"
        return Reply(200 if ok else 401, {})

    refreshed: list[int] = []

    def refresh(c: HttpClient) -> bool:
        refreshed.append(1)
        c.headers["Authorization"] = "Bearer new"
        return True

    with EmulatorServer({("GET", "/x"): answer}) as server:
        http = client(
            server.url, [], headers={"Authorization": "Bearer old"}, on_unauthorized=refresh
        )
        http.get_json("/x")
    assert refreshed == [1]


def test_connection_errors_are_retried() -> None:
    """Nothing listening: retried with backoff, then a retriable error."""
    sleeps: list[float] = []
    with pytest.raises(RetriableError, match="ConnectionError"):
        client("http://127.0.0.1:9", sleeps).get_json("/x")
    assert len(sleeps) == 4


def test_truncated_json_is_a_retriable_error() -> None:
    """A cut-off body is reported as such, so the sync retries instead of mapping garbage."""
    with scripted(Reply(200, raw=b'{"issues": [')) as server:
        with pytest.raises(RetriableError, match="not JSON"):
            client(server.url, []).get_json("/x")


def test_token_bucket_holds_a_backfill_to_its_rate() -> None:
    """20 requests at 5/s with a burst of 5 take (20-5)/5 = 3 s of waiting."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(5, burst=5, clock=lambda: now[0], sleep=sleep)
    for _ in range(20):
        bucket.acquire()
    assert now[0] == pytest.approx(3.0)


def test_one_classifier_says_what_a_failure_means() -> None:
    """429, 408 and 5xx are retriable with the server's wait; other 4xx are not; 2xx is no failure."""
    import requests

    def response(
        status: int, headers: dict[str, str] | None = None, text: str = ""
    ) -> requests.Response:
        made = requests.Response()
        made.status_code, made._content = status, text.encode()
        made.headers.update(headers or {})
        return made

    assert classify(response(204)) is None
    limited = classify(response(429, {"Retry-After": "7"}))
    assert limited is not None and limited.retriable and limited.retry_after == 7.0
    assert limited.rate_limited
    for status in (408, 500, 503):
        failure = classify(response(status))
        assert failure is not None and failure.retriable, status
    refused = classify(response(400, text="bad field"))
    assert refused is not None and not refused.retriable and refused.reason == "HTTP 400: bad field"
