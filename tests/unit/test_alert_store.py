"""The alerting store's fold of ``hub.alerting``: revisions, and the counters others act on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from alerts.config import parse_alerting
from alerts.dispatch import plan
from alerts.engine import advance
from alerts.rules import Observation
from alerts.store import AlertStore
from core.topics import ALERTING

T0 = datetime(2026, 3, 4, 12, tzinfo=UTC)


def _alert(state: str = "firing", value: float = 1.0, team: str = "core") -> dict[str, Any]:
    return {
        "fingerprint": "f1",
        "state": state,
        "value": value,
        "labels": {"alertname": "wip_over_limit", "team": team},
        "annotations": {"summary": f"{value} over"},
    }


def _put(store: AlertStore, key: str, rev: int, value: dict[str, Any] | None) -> None:
    store.apply(ALERTING.name, key, {"rev": rev, "value": value})


def test_an_older_revision_never_undoes_a_newer_one() -> None:
    """A record older than the one held is ignored: the follower catching up on earlier
    writes does not undo one already applied locally."""
    store = AlertStore()
    _put(store, "alert/f1", 2, _alert(value=2.0))
    _put(store, "alert/f1", 1, _alert(value=1.0))
    assert store.alerts["f1"]["value"] == 2.0
    _put(store, "alert/f1", 3, None)
    assert "f1" not in store.alerts


def test_alert_writes_count_new_revisions_not_echoes() -> None:
    """``alert_writes`` moves with each new revision of an alert, so an evaluation can tell
    that alerts changed while it ran; the echo of a write already applied (same revision)
    and records of other kinds leave it alone."""
    store = AlertStore()
    _put(store, "alert/f1", 1, _alert())
    assert store.alert_writes == 1
    _put(store, "alert/f1", 1, _alert())  # the follower reading our own write back
    _put(store, "group/g1", 1, {"key": "g1"})
    assert store.alert_writes == 1
    _put(store, "alert/f1", 2, _alert(value=3.0))
    assert store.alert_writes == 2


def test_routing_version_ignores_an_alert_s_new_value_but_not_its_state_or_labels() -> None:
    """What the dispatcher's plan reads moves ``routing_version``: a new alert, a new state,
    new labels, a forgotten alert, any group, silence or delivery. A new value or
    annotations (rewritten by the rules every evaluation, read only when a group flushes)
    and an echo do not."""
    store = AlertStore()
    moves: list[bool] = []

    def put(key: str, rev: int, value: dict[str, Any] | None) -> None:
        before = store.routing_version
        _put(store, key, rev, value)
        moves.append(store.routing_version != before)

    put("alert/f1", 1, _alert())  # new
    put("alert/f1", 1, _alert())  # echo
    put("alert/f1", 2, _alert(value=5.0))  # a new value
    put("alert/f1", 3, _alert(state="resolved", value=5.0))  # a new state
    put("alert/f1", 4, _alert(state="resolved", value=5.0, team="web"))  # new labels
    put("alert/f1", 5, None)  # forgotten
    put("silence/s1", 1, {"id": "s1"})
    put("silence/s1", 1, {"id": "s1"})  # echo
    put("group/g1", 1, {"key": "g1"})
    put("group/g1", 1, {"key": "g1", "notified": {}})  # same revision, other content
    put("delivery/d1", 1, {"status": "delivered"})
    assert moves == [True, False, False, True, True, True, True, False, True, True, True]


def test_the_echoes_of_a_planned_flush_change_nothing() -> None:
    """Groups and alerts written by the service and read back from the topic (decoded
    from JSON, as the follower does) move neither counter: a flush that writes a
    thousand groups is not planned again while their echoes arrive."""
    config = parse_alerting({})
    alerts, _ = advance({}, [Observation({"alertname": "PastDue", "team": "core"}, {}, 2.0, 0)], T0)
    groups, _, _ = plan(alerts, {}, [], config, T0)
    store = AlertStore()
    written = [("alert", fp, a) for fp, a in alerts.items()]
    written += [("group", key, g) for key, g in groups.items()]
    for kind, key, value in written:
        _put(store, f"{kind}/{key}", 1, value)
    counters = (store.alert_writes, store.routing_version)
    for kind, key, value in written:
        _put(store, f"{kind}/{key}", 1, json.loads(json.dumps(value)))
    assert (store.alert_writes, store.routing_version) == counters
