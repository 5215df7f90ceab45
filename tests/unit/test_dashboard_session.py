"""Dashboard sign-in cookies and CSRF tokens (``hub.dashboard.session``)."""

from __future__ import annotations

from hub.dashboard.session import (
    ABSOLUTE_SECONDS,
    IDLE_SECONDS,
    SIGNIN_SECONDS,
    SessionKeys,
    safe_next,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_sealed_session_opens_only_unaltered_and_with_the_same_token() -> None:
    """A cookie opens back into its session; one byte changed, or a cookie sealed under
    another API token (rotation signs everyone out), opens to nothing; the token itself
    is not in the cookie."""
    keys = SessionKeys("the-api-token")
    session = keys.issue()
    cookie = keys.seal(session)
    assert keys.open(cookie) == session
    assert "the-api-token" not in cookie
    payload, mac = cookie.rsplit(".", 1)
    assert keys.open(f"{payload}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}") is None
    assert keys.open(payload + "x." + mac) is None
    assert SessionKeys("a-rotated-token").open(cookie) is None
    assert keys.open(None) is None and keys.open("garbage") is None


def test_a_session_ends_when_idle_or_too_old() -> None:
    """Idle past the idle limit, or older than the absolute limit however busy, a session
    no longer opens; touching it renews its idle time at most once a minute."""
    clock = Clock()
    keys = SessionKeys("t", clock)
    session = keys.issue()
    clock.now += IDLE_SECONDS + 1
    assert keys.open(keys.seal(session)) is None
    session = keys.issue()
    for _ in range(ABSOLUTE_SECONDS // IDLE_SECONDS + 1):
        clock.now += IDLE_SECONDS - 10
        touched = keys.touch(session)
        assert touched is not None
        session = touched
    assert keys.open(keys.seal(session)) is None  # busy, but past the absolute limit
    fresh = keys.issue()
    assert keys.touch(fresh) is None  # within a minute: not worth a new cookie


def test_csrf_tokens_belong_to_their_session() -> None:
    """A session's CSRF token passes for it and for no other session; none passes empty."""
    keys = SessionKeys("t")
    one, two = keys.issue(), keys.issue()
    assert keys.csrf_ok(one, keys.csrf_for(one))
    assert not keys.csrf_ok(two, keys.csrf_for(one))
    assert not keys.csrf_ok(one, None) and not keys.csrf_ok(one, "")


def test_the_signin_form_token_matches_its_nonce_and_expires() -> None:
    """The sign-in form's token passes with its own nonce cookie only, and not after the
    form's lifetime."""
    clock = Clock()
    keys = SessionKeys("t", clock)
    nonce, token = keys.signin_nonce()
    other, _ = keys.signin_nonce()
    assert keys.signin_ok(nonce, token) and not keys.signin_ok(other, token)
    assert keys.signin_fresh(nonce)
    clock.now += SIGNIN_SECONDS + 1
    assert not keys.signin_ok(nonce, token) and not keys.signin_fresh(nonce)


def test_after_signing_in_only_paths_on_this_site_are_followed() -> None:
    """A next= that names another host (or is missing) leads to the portfolio instead."""
    assert safe_next("/alerts?state=firing") == "/alerts?state=firing"
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "", None):
        assert safe_next(hostile) == "/"
