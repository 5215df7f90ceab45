"""Alert lifecycle, as Grafana draws it: pending -> firing -> recovering -> resolved.

``advance`` is a pure step: the alerts as they stood, what the rules observe now, and the
time, in; the alerts as they stand now, and which of them changed, out. A condition must
hold for its rule's ``for`` before it fires, so a blip that clears inside ``for`` never
reaches anyone; a firing alert whose condition clears waits ``keep_firing_for`` before it
resolves, so a flapping one does not page twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from alerts.rules import Observation
from core.events import iso, parse_utc

__all__ = ["advance", "PENDING", "FIRING", "RECOVERING", "RESOLVED", "INACTIVE", "HISTORY_LIMIT"]

PENDING, FIRING, RECOVERING, RESOLVED, INACTIVE = (
    "pending",
    "firing",
    "recovering",
    "resolved",
    "inactive",  # cleared while pending: recorded, never notified
)
HISTORY_LIMIT = 50
Alert = dict[str, Any]


def _transition(alert: Alert, state: str, at: str, **changes: Any) -> Alert:
    entry = {"at": at, "state": state, "value": changes.get("value", alert.get("value"))}
    history = [*alert.get("history", []), entry][-HISTORY_LIMIT:]
    return {**alert, **changes, "state": state, "updated_at": at, "history": history}


def _held(since: str, now: datetime, seconds: float) -> bool:
    return now - parse_utc(since) >= timedelta(seconds=seconds)


def _observed(alert: Alert | None, seen: Observation, at: str, now: datetime) -> Alert:
    details = {
        "labels": seen.labels,
        "annotations": seen.annotations,
        "value": seen.value,
        "for_seconds": seen.for_seconds,
        "keep_firing_for_seconds": seen.keep_firing_for_seconds,
        "last_seen_at": at,
    }
    if alert is None or alert["state"] in (RESOLVED, INACTIVE):
        fresh = {
            "fingerprint": seen.fingerprint,
            "history": alert.get("history", []) if alert else [],
            "starts_at": None,
            "ends_at": None,
            "recovering_since": None,
        }
        alert = _transition({**fresh, **details}, PENDING, at, active_at=at)
    else:
        alert = {**alert, **details}
    if alert["state"] == PENDING and _held(alert["active_at"], now, seen.for_seconds):
        alert = _transition(alert, FIRING, at, starts_at=at)
    elif alert["state"] == RECOVERING:
        alert = _transition(alert, FIRING, at, recovering_since=None)
    return alert


def _not_observed(alert: Alert, at: str, now: datetime) -> Alert:
    state = alert["state"]
    if state == PENDING:
        return _transition(alert, INACTIVE, at, ends_at=at)
    if state == FIRING:
        if alert.get("keep_firing_for_seconds"):
            return _transition(alert, RECOVERING, at, recovering_since=at)
        return _transition(alert, RESOLVED, at, ends_at=at)
    if state == RECOVERING and _held(
        alert["recovering_since"], now, alert["keep_firing_for_seconds"]
    ):
        return _transition(alert, RESOLVED, at, ends_at=at)
    return alert


def advance(
    alerts: Mapping[str, Alert],
    observed: Iterable[Observation],
    now: datetime,
    *,
    skip_alertnames: Iterable[str] = (),
    retention: timedelta = timedelta(days=7),
) -> tuple[dict[str, Alert], dict[str, Alert | None]]:
    """One evaluation. Returns all alerts and the changed ones (``None``: forgotten).

    Alerts of ``skip_alertnames`` (rules that failed to evaluate) are left as they were.
    """
    at = iso(now)
    skipped = set(skip_alertnames)
    seen = {o.fingerprint: o for o in observed}
    result: dict[str, Alert] = {}
    changed: dict[str, Alert | None] = {}
    for fp in set(alerts) | set(seen):
        before = alerts.get(fp)
        after: Alert | None
        if fp in seen:
            after = _observed(before, seen[fp], at, now)
        elif before is None or before["labels"].get("alertname") in skipped:
            after = before
        else:
            after = _not_observed(before, at, now)
        if after is None:
            continue
        ended = after.get("ends_at")
        if (
            after["state"] in (RESOLVED, INACTIVE)
            and ended
            and _held(ended, now, retention.total_seconds())
        ):
            changed[fp] = None
            continue
        result[fp] = after
        if after is not before and _differs(before, after):
            changed[fp] = after
    return result, changed


def _differs(before: Alert | None, after: Alert) -> bool:
    """Worth persisting: a new state or new numbers, not just another 'still seen'."""
    if before is None:
        return True
    keys = ("state", "value", "annotations", "labels", "for_seconds", "keep_firing_for_seconds")
    return any(before.get(k) != after.get(k) for k in keys)
