"""What every dashboard page shares: its route declaration, the frame's context, the
"as of" control, and where its data comes from.

Pages read the same projections the API serves (``hub.api.snapshots``) and the same
drift inputs the rules judge (``hub.drift_inputs``), so a number on a page is the number
the API and the alerts give.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from alerts.inputs import DriftInputs
from hub.api.declare import Call, Param
from hub.api.errors import ApiError
from hub.api.snapshots import Snapshot, snapshot
from hub.dashboard.render import render
from hub.dashboard.session import Session
from hub.drift_inputs import drift_inputs_forked

if TYPE_CHECKING:
    from hub.services import Services

__all__ = ["AS_OF_DAY", "Frame", "end_of", "form_fields", "frame", "html", "inputs_for"]

INPUTS_TTL = 5.0  # seconds live drift inputs are reused across page views


def _as_moment(name: str, raw: str) -> datetime:
    """A day (its end) or a moment to the second, in UTC, not in the future."""
    try:
        if len(raw) == 10:
            moment = end_of(date.fromisoformat(raw))
        else:
            moment = datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(
            400, "bad_parameter", f"{name} must be a date or a time like 2026-03-31T17:00"
        ) from None
    now = datetime.now(UTC)
    if moment > now + timedelta(days=1):
        raise ApiError(400, "bad_parameter", f"{name} is in the future; pick today or earlier")
    return min(moment, now)


AS_OF_DAY = Param(
    "as_of",
    {"type": "string"},
    _as_moment,
    "The page as it stood then: a day (its end) or a time to the second, UTC.",
)


def end_of(day: date) -> datetime:
    """The last moment of ``day`` (UTC): a page "as of" a day shows all of that day."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, microseconds=-1)


@dataclass(frozen=True)
class Frame:
    """One page view's context: who, the as-of day, and the data at that moment."""

    call: Call
    session: Session
    moment: datetime | None  # None: now, live

    @property
    def services(self) -> Services:
        return self.call.services

    async def snapshot(self) -> Snapshot:
        return await snapshot(self.services, self.moment)

    def context(self, page: str, title: str, **more: Any) -> dict[str, Any]:
        """The frame's part of a template's context; ``more`` is the page's own."""
        request = self.call.request
        kept = [(k, v) for k, v in request.query.items() if k != "as_of"]
        return {
            "page": page,
            "title": title,
            "signed_in": True,
            "csrf": self.services.sessions.csrf_for(self.session),
            "as_of": self.moment.strftime("%Y-%m-%dT%H:%M:%S") if self.moment else None,
            "today": datetime.now(UTC).date().isoformat(),
            "keep_params": kept,
            "now_query": urlencode(kept),
            "live": self.moment is None,
            **more,
        }


def frame(call: Call) -> Frame:
    session: Session = call.request["session"]
    return Frame(call, session, call.args.get("as_of"))


def html(template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    return render(template, status=status, **context)


_LIVE_INPUTS: dict[int, tuple[float, int, DriftInputs]] = {}


async def inputs_for(f: Frame, snap: Snapshot) -> DriftInputs:
    """The drift inputs for the page's moment: computed off the worker's interpreter,
    and for the live view reused for a few seconds (every page view would otherwise redo
    them)."""
    services = f.services
    config = services.alerting.config
    if snap.as_of is not None:
        return await drift_inputs_forked(snap.entities, snap.index, snap.as_of, config)
    key = id(services)
    version = services.read_model.version
    cached = _LIVE_INPUTS.get(key)
    if cached and (cached[1] == version or clock.monotonic() - cached[0] < INPUTS_TTL):
        return cached[2]
    computed = await drift_inputs_forked(snap.entities, snap.index, snap.index.now, config)
    _LIVE_INPUTS[key] = (clock.monotonic(), version, computed)
    return computed


async def form_fields(call: Call) -> dict[str, str]:
    """A posted form's text fields (files are not taken)."""
    posted = await call.request.post()
    return {k: v for k, v in posted.items() if isinstance(v, str)}
