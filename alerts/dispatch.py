"""Routing and grouping: which receiver hears about which alerts, together, and when.

Alertmanager's model. Each alert walks the route tree to one or more receivers; alerts
that share the route's ``group_by`` labels form a group, notified together. A new group
waits ``group_wait`` to collect its siblings, later changes wait ``group_interval``, and an
unchanged firing group is re-sent after ``repeat_interval``. What each integration of a
receiver was last told is kept per group (the notification log), so a restart sends only
what it has not yet delivered, and a resolved alert is announced once.

``plan`` is pure: alerts, groups, silences and time in; groups and notifications out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from alerts.config import AlertingConfig, Receiver, Route
from alerts.engine import FIRING, RECOVERING, RESOLVED
from alerts.inhibition import Inhibitors
from alerts.matchers import matches_all
from alerts.silences import silenced_by
from core.events import iso, parse_utc

__all__ = [
    "RouteMatch",
    "Router",
    "Notification",
    "match_routes",
    "integrations",
    "firing_alerts",
    "inhibitors",
    "mute_status",
    "plan",
    "next_flush",
    "next_dispatch",
    "delivered",
]

Alert = dict[str, Any]
Group = dict[str, Any]


@dataclass(frozen=True)
class RouteMatch:
    path: str
    receiver: str
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta


Routed = tuple[str, dict[str, str], RouteMatch]  # group key, group labels, route


def match_routes(route: Route, labels: Mapping[str, str]) -> list[RouteMatch]:
    """The routes an alert ends at: the deepest matching ones, siblings after a
    ``continue``, the root when no child matches."""
    root = RouteMatch(
        "{}",
        route.receiver or "",
        tuple(route.group_by or ()),
        route.group_wait or timedelta(seconds=30),
        route.group_interval or timedelta(minutes=5),
        route.repeat_interval or timedelta(hours=4),
    )
    return _walk(route, root, labels)


def _walk(route: Route, here: RouteMatch, labels: Mapping[str, str]) -> list[RouteMatch]:
    found: list[RouteMatch] = []
    keys = [", ".join(str(m) for m in child.matchers) for child in route.routes]
    for n, child in enumerate(route.routes):
        if not matches_all(child.matchers, labels):
            continue
        # Alertmanager's route key is its matchers; siblings with the same matchers (one
        # alert to two receivers with `continue`) are told apart by their index.
        key = f"{{{keys[n]}}}" + (f"/{n}" if keys.count(keys[n]) > 1 else "")
        inherited = RouteMatch(
            f"{here.path}/{key}",
            child.receiver or here.receiver,
            tuple(child.group_by) if child.group_by is not None else here.group_by,
            child.group_wait if child.group_wait is not None else here.group_wait,
            child.group_interval if child.group_interval is not None else here.group_interval,
            child.repeat_interval if child.repeat_interval is not None else here.repeat_interval,
        )
        found.extend(_walk(child, inherited, labels))
        if not child.continue_:
            break
    return found or [here]


class Router:
    """Where alerts go under one route tree, each distinct label set worked out once.

    Every plan walks every firing alert through the tree and builds its group keys; with
    thousands firing that was 30% of a plan, repeated for the same label sets each time
    (the rules emit the same ones every evaluation). Kept by whoever plans repeatedly
    under one configuration; dropped whole past ``LIMIT`` label sets."""

    LIMIT = 100_000

    def __init__(self, route: Route) -> None:
        self.route = route
        self._seen: dict[tuple[tuple[str, str], ...], tuple[Routed, ...]] = {}

    def groups(self, labels: Mapping[str, str]) -> tuple[Routed, ...]:
        """Each route ``labels`` end at: its group key, the group's labels, the route."""
        seen = tuple(sorted(labels.items()))
        found = self._seen.get(seen)
        if found is None:
            if len(self._seen) >= self.LIMIT:
                self._seen.clear()
            found = tuple(
                (*_group_key(match, labels), match) for match in match_routes(self.route, labels)
            )
            self._seen[seen] = found
        return found


def integrations(receiver: Receiver) -> list[tuple[str, Any]]:
    """A receiver's integrations, each named the way its delivery log shows it."""
    found: list[tuple[str, Any]] = []
    for kind in ("slack", "webhook", "email", "console"):
        for n, config in enumerate(getattr(receiver, f"{kind}_configs")):
            found.append((f"{kind}[{n}]", config))
    return found


@dataclass(frozen=True)
class Notification:
    id: str
    group_key: str
    receiver: str
    integration: str
    status: str  # firing | resolved
    group_labels: dict[str, str]
    alerts: list[Alert]
    firing: list[str]
    resolved: list[str]
    created_at: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group_key": self.group_key,
            "receiver": self.receiver,
            "integration": self.integration,
            "status": self.status,
            "group_labels": self.group_labels,
            "alerts": self.alerts,
            "firing": self.firing,
            "resolved": self.resolved,
            "created_at": self.created_at,
        }


def firing_alerts(alerts: Iterable[Alert]) -> list[Alert]:
    """Alerts that notify and inhibit: firing, or recovering (still firing to receivers)."""
    return [a for a in alerts if a["state"] in (FIRING, RECOVERING)]


def inhibitors(alerts: Iterable[Alert], config: AlertingConfig) -> Inhibitors:
    """What ``config``'s inhibit rules can mute with, among ``alerts``' firing ones."""
    return Inhibitors(firing_alerts(alerts), config.inhibit_rules)


def mute_status(
    alert: Alert,
    inhibiting: Inhibitors,
    silences: Iterable[Mapping[str, Any]],
    now: datetime,
) -> dict[str, list[str]]:
    """Which silences and which firing alerts (by fingerprint) keep ``alert`` quiet."""
    return {
        "silencedBy": silenced_by(alert["labels"], silences, now),
        "inhibitedBy": inhibiting.of(alert),
    }


@lru_cache(maxsize=8192)
def _go_quote(value: str) -> str:
    """A label value as Go's %q writes it, as Alertmanager's label sets print. Cached:
    every tick quotes every firing alert's group labels, mostly the same few values."""
    return json.dumps(value, ensure_ascii=False)


def _group_key(match: RouteMatch, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """Alertmanager's group key: the route's key, then the group's labels, as
    ``{}/{team="core"}:{alertname="PastDue", team="core"}``."""
    if "..." in match.group_by:
        chosen = dict(labels)
    else:
        chosen = {n: labels[n] for n in match.group_by if n in labels}
    text = ", ".join(f"{k}={_go_quote(v)}" for k, v in sorted(chosen.items()))
    return f"{match.path}:{{{text}}}", chosen


def _notification_id(
    group_key: str, integration: str, firing: list[str], resolved: list[str]
) -> str:
    body = json.dumps([group_key, integration, firing, resolved])
    return hashlib.sha256(body.encode()).hexdigest()[:20]


def plan(
    alerts: Mapping[str, Alert],
    groups: Mapping[str, Group],
    silences: Iterable[Mapping[str, Any]],
    config: AlertingConfig,
    now: datetime,
    in_flight: Iterable[tuple[str, str]] = (),
    router: Router | None = None,
    since: datetime | None = None,
) -> tuple[dict[str, Group], dict[str, Group | None], list[Notification]]:
    """Groups after this tick, the changed ones (``None``: closed), and what to send.

    A group flushes when one of its flush times (``next_flush``) came after ``since``
    (the previous plan's time; ``None``: every group whose first flush has come, as a new
    leader does: the notification log keeps that from repeating anything). Only a group
    whose content changed is returned as changed: a flush with nothing to say writes
    nothing, where a thousand groups flushing every ``group_interval`` otherwise wrote a
    thousand records each time. ``router``: one kept across plans (``Router``)."""
    at = iso(now)
    silences = list(silences)
    busy = set(in_flight)
    router = router or Router(config.route)
    firing = firing_alerts(alerts.values())
    inhibiting = Inhibitors(firing, config.inhibit_rules)
    members: dict[str, set[str]] = {}
    result = {k: dict(v) for k, v in groups.items()}
    changed: dict[str, Group | None] = {}
    for alert in firing:
        muted = mute_status(alert, inhibiting, silences, now)
        if muted["silencedBy"] or muted["inhibitedBy"]:
            continue
        for key, labels, match in router.groups(alert["labels"]):
            members.setdefault(key, set()).add(alert["fingerprint"])
            if key not in result:
                result[key] = changed[key] = {
                    "key": key,
                    "receiver": match.receiver,
                    "group_labels": dict(labels),
                    "created_at": at,
                    "first_flush_at": iso(now + match.group_wait),
                    "group_interval_seconds": match.group_interval.total_seconds(),
                    "repeat_interval_seconds": match.repeat_interval.total_seconds(),
                    "notified": {},
                }
    notifications: list[Notification] = []
    # A thousand groups flush at once, under a few receivers and intervals: each looked up
    # once per plan.
    outputs_of = {r.name: integrations(r) for r in config.receivers}
    for key, group in list(result.items()):
        if (next_flush(group, since) if since else _first_flush(group)) > now:
            continue  # no flush time of this group came since the last plan
        current = sorted(members.get(key, ()))
        outputs = outputs_of.get(group["receiver"], [])
        sent_any, open_any, remembered = False, False, key not in groups
        for name, integration in outputs:
            if (key, name) in busy:
                open_any = True
                continue
            told = group["notified"].get(name, {"firing": [], "at": None})
            resolved = [
                fp for fp in told["firing"] if fp not in current and _is_resolved(alerts.get(fp))
            ]
            new = set(current) - set(told["firing"])
            repeat_due = bool(
                current
                and told["at"]
                and now - parse_utc(told["at"])
                >= timedelta(seconds=group["repeat_interval_seconds"])
            )
            send_resolved = bool(resolved) and getattr(integration, "send_resolved", True)
            if new or repeat_due or send_resolved:
                shown = [_with_status(alerts[fp], "firing") for fp in current]
                shown += [_with_status(alerts[fp], "resolved") for fp in resolved]
                notifications.append(
                    Notification(
                        id=_notification_id(key, name, current, resolved),
                        group_key=key,
                        receiver=group["receiver"],
                        integration=name,
                        status="firing" if current else "resolved",
                        group_labels=group["group_labels"],
                        alerts=shown,
                        firing=current,
                        resolved=resolved,
                        created_at=at,
                    )
                )
                sent_any = open_any = True
            elif set(told["firing"]) != set(current):
                # Shrunk by silences, inhibition or unannounced resolves: nothing to say,
                # but remember, so a later return counts as new.
                group["notified"] = {
                    **group["notified"],
                    name: {"firing": current, "at": told["at"]},
                }
                remembered = True
            if group["notified"].get(name, {}).get("firing"):
                open_any = True
        if not current and not open_any and not sent_any:
            result.pop(key)
            changed[key] = None
        elif remembered:
            changed[key] = group
    return result, changed, notifications


def _first_flush(group: Group) -> datetime:
    # Groups written before flush times were derived carry their next flush instead: the
    # times after it follow from it all the same.
    return parse_utc(group.get("first_flush_at") or group["next_flush_at"])


def next_flush(group: Group, after: datetime) -> datetime:
    """The group's first flush time later than ``after``: its first flush (``group_wait``
    after it formed), then one every ``group_interval``, as Alertmanager's group timer
    ticks. Derived, never stored: a flush changes nothing a record holds."""
    first = _first_flush(group)
    if first > after:
        return first
    step = timedelta(seconds=max(float(group["group_interval_seconds"]), 1.0))
    return first + ((after - first) // step + 1) * step


def next_dispatch(
    groups: Mapping[str, Group], silences: Iterable[Mapping[str, Any]], now: datetime
) -> datetime | None:
    """The first moment after ``now`` at which ``plan`` could decide something new with
    no alert, group or silence changing: a group's next flush, or a silence starting or
    ending. Until then (or a change), planning again would only repeat itself."""
    moments = [next_flush(group, now) for group in groups.values()]
    for silence in silences:
        moments += [parse_utc(silence[edge]) for edge in ("startsAt", "endsAt")]
    return min((m for m in moments if m > now), default=None)


def _is_resolved(alert: Alert | None) -> bool:
    return alert is None or alert["state"] == RESOLVED


def _with_status(alert: Alert, status: str) -> Alert:
    return {**alert, "status": status}


def delivered(group: Group, notification: Notification, now: datetime) -> Group:
    """The group once ``notification`` reached its integration: the log moves forward."""
    told = {"firing": notification.firing, "at": iso(now)}
    return {**group, "notified": {**group["notified"], notification.integration: told}}
