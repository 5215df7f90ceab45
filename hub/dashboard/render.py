"""Turning page data into HTML: one Jinja2 environment, the page frame, the error page.

Every response carries a strict Content-Security-Policy: scripts and styles come only
from the hub's own ``/static`` files (no inline script, no CDN), so data shown on a page
(a ticket title, an alert annotation) can never run as code even if escaping failed.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

__all__ = ["render", "error_page", "see_other", "SECURITY_HEADERS"]

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(value: Any) -> str:
    """An ISO time or date as people read it: '2026-11-25 14:03' (UTC) or the date."""
    if not value:
        return "—"
    if isinstance(value, datetime | date):
        value = value.isoformat()
    text = str(value).replace("T", " ")
    return text[:16] if len(text) > 10 else text


def _money(value: Any) -> str:
    if value is None:
        return "—"
    amount = float(value)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(amount) >= size:
            return f"${amount / size:.1f}{unit}"
    return f"${amount:,.0f}"


def _percent(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f}%"


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.{digits}f}"


def _json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` block: ``</`` cannot close it."""
    return json.dumps(value, default=str).replace("</", "<\\/")


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a missing value is a bug to see, not a blank
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(when=_when, money=_money, percent=_percent, number=_number, tojson=_json)


def render(template: str, status: int = 200, **context: Any) -> web.Response:
    """A page: ``template`` under ``templates/`` with ``context``, security headers on."""
    html = ENV.get_template(template).render(**context)
    return web.Response(
        text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS
    )


def see_other(location: str) -> web.Response:
    """After a form is handled: the browser goes to ``location`` with a GET (303)."""
    return web.Response(status=303, headers={"Location": location})


def error_page(status: int, message: str, signed_in: bool = True) -> web.Response:
    """A readable error in the page frame; never a stack trace."""
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 422: "Not valid"}
    return render(
        "error.html",
        status=status,
        title=titles.get(status, "Something went wrong"),
        message=message,
        status_code=status,
        page=None,
        signed_in=signed_in,
        csrf="",
        as_of=None,
        live=False,
    )
