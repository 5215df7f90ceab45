"""Dashboard sign-in: the API token exchanged for a signed session cookie, and CSRF tokens.

The cookie is stateless (a payload and its HMAC), so every worker behind a load balancer
accepts what any other issued, with no session store to share. Its key is derived from
the API token, so rotating the token signs everyone out. The token itself is only ever
compared, never stored in the cookie, a page, a URL or a log.

Each state-changing dashboard request carries a CSRF token bound to its session (HMAC
of the session id); the sign-in form, before there is a session, carries one bound to a
short-lived nonce cookie (double submit). Cookies are HttpOnly and SameSite=Strict, and
Secure whenever the dashboard is reached over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

__all__ = [
    "SESSION_COOKIE",
    "SIGNIN_COOKIE",
    "Session",
    "SessionKeys",
    "safe_next",
]

SESSION_COOKIE = "hub_session"
SIGNIN_COOKIE = "hub_signin"
IDLE_SECONDS = 8 * 3600  # a working day without a click signs out
ABSOLUTE_SECONDS = 7 * 24 * 3600  # and a week at most, however busy
SIGNIN_SECONDS = 600  # to fill in the sign-in form


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its id (for CSRF), who (the token's name), and times."""

    sid: str
    who: str
    issued: int
    seen: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionKeys:
    """Issues and checks session cookies and CSRF tokens for one API token."""

    def __init__(self, api_token: str, clock: Callable[[], float] = time.time) -> None:
        # a key of its own, so a cookie's MAC never doubles as anything else
        self._key = hmac.new(api_token.encode(), b"hub-dashboard-session-v1", "sha256").digest()
        self._token = api_token
        self._now = clock

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.strip().encode(), self._token.encode())

    def _mac(self, purpose: str, payload: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{payload}".encode(), hashlib.sha256).digest())

    # --- sessions ----------------------------------------------------------------------

    def issue(self, who: str = "api-token") -> Session:
        now = int(self._now())
        return Session(secrets.token_urlsafe(16), who, now, now)

    def seal(self, session: Session) -> str:
        payload = _b64(
            json.dumps([session.sid, session.who, session.issued, session.seen]).encode()
        )
        return f"{payload}.{self._mac('session', payload)}"

    def open(self, cookie: str | None) -> Session | None:
        """The session a cookie carries; None when absent, forged, idle or too old."""
        if not cookie or "." not in cookie:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac("session", payload)):
            return None
        try:
            sid, who, issued, seen = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        now = self._now()
        if now - seen > IDLE_SECONDS or now - issued > ABSOLUTE_SECONDS:
            return None
        return Session(str(sid), str(who), int(issued), int(seen))

    def touch(self, session: Session) -> Session | None:
        """The session with a fresh last-seen time, when worth re-sealing (a minute on)."""
        now = int(self._now())
        if now - session.seen < 60:
            return None
        return Session(session.sid, session.who, session.issued, now)

    # --- CSRF --------------------------------------------------------------------------

    def csrf_for(self, session: Session) -> str:
        return self._mac("csrf", session.sid)

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given), self.csrf_for(session))

    def signin_nonce(self) -> tuple[str, str]:
        """(cookie value, form token) for the sign-in form, before any session exists."""
        nonce = f"{int(self._now())}.{secrets.token_urlsafe(16)}"
        return nonce, self.signin_token(nonce)

    def signin_token(self, nonce: str) -> str:
        return self._mac("signin", nonce)

    def signin_fresh(self, nonce: str | None) -> bool:
        """A nonce this hub issued less than ``SIGNIN_SECONDS`` ago (with a minute to spare
        for filling in the form)."""
        if not nonce or "." not in nonce:
            return False
        issued = nonce.split(".", 1)[0]
        return issued.isdigit() and self._now() - int(issued) < SIGNIN_SECONDS - 60

    def signin_ok(self, nonce: str | None, given: str | None) -> bool:
        if not nonce or not given or "." not in nonce:
            return False
        issued = nonce.split(".", 1)[0]
        if not issued.isdigit() or self._now() - int(issued) > SIGNIN_SECONDS:
            return False
        return hmac.compare_digest(str(given), self.signin_token(nonce))

    # --- cookies on responses ----------------------------------------------------------

    @staticmethod
    def set_cookie(
        request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
        )


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another host."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    return raw
