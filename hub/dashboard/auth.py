"""Signing in and out of the dashboard (see ``hub.dashboard.session`` for the cookies)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.declare import Call, Routes, text
from hub.dashboard.frame import form_fields
from hub.dashboard.render import render, see_other
from hub.dashboard.session import (
    ABSOLUTE_SECONDS,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    SIGNIN_SECONDS,
    safe_next,
)

__all__ = ["ROUTES"]

ROUTES = Routes("dashboard")


def _signin_form(call: Call, next_path: str, message: str | None, status: int) -> web.Response:
    keys = call.services.sessions
    # a form still fresh in another tab (or a second load) keeps working: reuse its nonce
    kept = call.request.cookies.get(SIGNIN_COOKIE)
    if kept is not None and keys.signin_fresh(kept):
        nonce, form_token = kept, keys.signin_token(kept)
    else:
        nonce, form_token = keys.signin_nonce()
    response = render(
        "signin.html",
        status=status,
        page=None,
        title="Sign in",
        signed_in=False,
        csrf="",
        live=False,
        signin_token=form_token,
        next=next_path,
        message=message,
    )
    keys.set_cookie(call.request, response, SIGNIN_COOKIE, nonce, SIGNIN_SECONDS)
    return response


@ROUTES.get(
    "/signin",
    "Sign-in page",
    params=(text("next", "Where to go after signing in (a path on this site)."),),
    public=True,
    page=True,
    media_type="text/html",
)
async def signin_page(call: Call) -> Any:
    return _signin_form(call, safe_next(call.args["next"]), None, 200)


@ROUTES.post("/signin", "Sign in with the API token", public=True, page=True)
async def signin(call: Call) -> Any:
    keys = call.services.sessions
    fields = await form_fields(call)
    next_path = safe_next(fields.get("next"))
    if not keys.signin_ok(call.request.cookies.get(SIGNIN_COOKIE), fields.get("signin_token")):
        return _signin_form(call, next_path, "The sign-in form expired: try again.", 403)
    if not keys.token_matches(fields.get("token", "")):
        return _signin_form(call, next_path, "That token is not this hub's API token.", 401)
    session = keys.issue()
    response = see_other(next_path)
    keys.set_cookie(call.request, response, SESSION_COOKIE, keys.seal(session), ABSOLUTE_SECONDS)
    response.del_cookie(SIGNIN_COOKIE, path="/")
    return response


@ROUTES.post("/signout", "Sign out", page=True)
async def signout(call: Call) -> Any:
    response = see_other("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
