"""The alert engine and dispatcher on a simulated clock: Alertmanager's semantics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.config import AlertingConfig, parse_alerting
from alerts.dispatch import (
    Notification,
    Router,
    delivered,
    match_routes,
    next_dispatch,
    next_flush,
    plan,
)
from alerts.engine import advance
from alerts.inhibition import Inhibitors
from alerts.matchers import parse_matcher
from alerts.rules import Observation
from alerts.silences import SilenceRequest, expire, new_silence, silence_state

T0 = datetime(2026, 3, 4, 12, tzinfo=UTC)

CONFIG = {
    "route": {
        "receiver": "team-chat",
        "group_by": ["alertname", "team"],
        "group_wait": "10s",
        "group_interval": "1m",
        "repeat_interval": "4h",
    },
    "receivers": [{"name": "team-chat", "console_configs": [{}]}],
}


def seen(
    alertname: str = "WipOverLimit", team: str = "core", for_: float = 60, **extra: str
) -> Observation:
    labels = {"alertname": alertname, "severity": "warning", "team": team, **extra}
    return Observation(labels, {"summary": f"{alertname} {team}"}, 1.0, for_)


class Sim:
    """Rules -> engine -> dispatcher -> (instant, successful) delivery, tick by tick."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config: AlertingConfig = parse_alerting(config or CONFIG)
        self.alerts: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.silences: list[dict[str, Any]] = []
        self.sent: list[Notification] = []
        self.written = 0  # group records the plans changed (what the worker writes)
        self.router = Router(self.config.route)  # kept across ticks, as the worker does
        self.planned_at: datetime | None = None  # None: a new leader

    def run(
        self, start: datetime, seconds: int, observed: list[Observation], step: int = 5
    ) -> None:
        for n in range(0, seconds, step):
            self.tick(start + timedelta(seconds=n), observed)

    def tick(self, now: datetime, observed: list[Observation]) -> None:
        self.alerts, _ = advance(self.alerts, observed, now)
        self.groups, changed, notifications = plan(
            self.alerts,
            self.groups,
            self.silences,
            self.config,
            now,
            router=self.router,
            since=self.planned_at,
        )
        self.planned_at = now
        self.written += len(changed)
        for n in notifications:
            self.sent.append(n)
            self.groups[n.group_key] = delivered(self.groups[n.group_key], n, now)

    def statuses(self) -> list[tuple[str, int, int]]:
        return [(n.status, len(n.firing), len(n.resolved)) for n in self.sent]


def test_a_team_drifts_and_recovers_one_firing_and_one_resolved_notification() -> None:
    """A drift that holds past its for sends one firing notification; its recovery sends one
    resolved.
    """
    sim = Sim()
    sim.run(T0, 600, [seen()])  # 10 minutes drifting
    assert sim.statuses() == [("firing", 1, 0)]
    fired = sim.sent[0].alerts[0]
    assert fired["starts_at"] == "2026-03-04T12:01:00.000000Z"  # after "for": 60 s
    sim.run(T0 + timedelta(seconds=600), 600, [])  # recovered
    assert sim.statuses() == [("firing", 1, 0), ("resolved", 0, 1)]
    assert sim.sent[1].alerts[0]["status"] == "resolved"
    assert sim.groups == {}  # the group closes once its resolve was told
    history = [h["state"] for h in sim.alerts[fired["fingerprint"]]["history"]]
    assert history == ["pending", "firing", "resolved"]


def test_a_condition_that_clears_inside_for_notifies_no_one() -> None:
    """A condition that clears before its for duration never notifies and ends inactive."""
    sim = Sim()
    sim.run(T0, 45, [seen(for_=60)])
    sim.run(T0 + timedelta(seconds=45), 600, [])
    assert sim.sent == []
    (alert,) = sim.alerts.values()
    assert alert["state"] == "inactive"


def test_group_wait_collects_siblings_into_one_notification() -> None:
    """Alerts of one group arriving within group_wait go out as a single notification."""
    sim = Sim({**CONFIG, "route": {**CONFIG["route"], "group_by": ["team"]}})
    sim.tick(T0, [seen("WipOverLimit", for_=0)])
    sim.tick(T0 + timedelta(seconds=5), [seen("WipOverLimit", for_=0), seen("Stalled", for_=0)])
    sim.run(T0 + timedelta(seconds=10), 30, [seen("WipOverLimit", for_=0), seen("Stalled", for_=0)])
    assert sim.statuses() == [("firing", 2, 0)]


def test_an_unchanged_firing_group_repeats_after_repeat_interval_only() -> None:
    """An unchanged firing group is notified again only after repeat_interval."""
    sim = Sim()
    sim.run(T0, 4 * 3600 + 120, [seen(for_=0)], step=60)
    assert sim.statuses() == [("firing", 1, 0), ("firing", 1, 0)]
    gap = sim.sent[1].created_at, sim.sent[0].created_at
    assert gap == ("2026-03-04T16:01:00.000000Z", "2026-03-04T12:01:00.000000Z")


def test_keep_firing_for_rides_out_a_flap() -> None:
    """keep_firing_for keeps a briefly absent condition in the same incident instead of resolving
    it.
    """
    flappy = Observation(
        {"alertname": "X", "team": "core"}, {}, 1.0, 0, keep_firing_for_seconds=120
    )
    sim = Sim()
    sim.run(T0, 60, [flappy])
    sim.run(T0 + timedelta(seconds=60), 60, [])  # gone for a minute: recovering
    assert next(iter(sim.alerts.values()))["state"] == "recovering"
    sim.run(T0 + timedelta(seconds=120), 60, [flappy])  # back: still the same incident
    sim.run(T0 + timedelta(seconds=180), 300, [])
    assert sim.statuses() == [("firing", 1, 0), ("resolved", 0, 1)]


def test_a_silence_mutes_matching_alerts_until_it_expires() -> None:
    """A silence suppresses notifications for matching alerts until it expires, then they notify."""
    sim = Sim()
    request = SilenceRequest(
        matchers=['team="core"', "alertname=~Wip.*"],
        endsAt=T0 + timedelta(hours=1),
        createdBy="pat",
        comment="known: reorg week",
    )
    silence = new_silence(request, T0)
    sim.silences = [silence]
    sim.run(T0, 600, [seen(), seen(team="growth")])
    assert [n.group_labels["team"] for n in sim.sent] == ["growth"]
    sim.silences = [expire(silence, T0 + timedelta(seconds=600))]
    assert silence_state(sim.silences[0], T0 + timedelta(seconds=601)) == "expired"
    sim.run(T0 + timedelta(seconds=600), 120, [seen(), seen(team="growth")])
    assert sorted(n.group_labels["team"] for n in sim.sent) == ["core", "growth"]


def test_a_silenced_alert_that_resolves_announces_nothing() -> None:
    """An alert that fires and resolves under a silence sends no notification at all."""
    sim = Sim()
    sim.silences = [
        new_silence(
            SilenceRequest(
                matchers=['team="core"'], endsAt=T0 + timedelta(days=1), createdBy="p", comment="c"
            ),
            T0,
        )
    ]
    sim.run(T0, 300, [seen()])
    sim.run(T0 + timedelta(seconds=300), 300, [])
    assert sim.sent == []


def test_inhibition_mutes_symptoms_while_the_cause_fires() -> None:
    """An inhibit rule mutes target alerts with equal labels while the source alert fires."""
    config = {
        **CONFIG,
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="WipOverLimit"'],
                "target_matchers": ['alertname="ForecastSlip"'],
                "equal": ["team"],
            }
        ],
    }
    sim = Sim(config)
    cause, symptom = seen("WipOverLimit", for_=0), seen("ForecastSlip", for_=0, roadmap_item="r1")
    other_team = seen("ForecastSlip", team="growth", for_=0, roadmap_item="r2")
    sim.run(T0, 300, [cause, symptom, other_team])
    assert sorted((n.group_labels["alertname"], n.group_labels["team"]) for n in sim.sent) == [
        ("ForecastSlip", "growth"),
        ("WipOverLimit", "core"),
    ]
    sim.run(T0 + timedelta(seconds=300), 300, [symptom, other_team])  # cause resolved
    assert ("firing", "ForecastSlip", "core") in [
        (n.status, n.group_labels["alertname"], n.group_labels["team"]) for n in sim.sent
    ]


def test_inhibitors_are_the_firing_sources_with_equal_labels_never_the_alert_itself() -> None:
    """Filed once per tick, the sources a target meets are the firing alerts a rule's
    source matchers take whose ``equal`` labels have the target's values (a label both
    lack counts as equal, as in Alertmanager), from any rule, each named once; an alert
    never inhibits itself."""
    config = parse_alerting(
        {
            "inhibit_rules": [
                {"source_matchers": ['severity="critical"'],
                 "target_matchers": ['team!=""'], "equal": ["team"]},
                {"source_matchers": ['alertname="WipOverLimit"'],
                 "target_matchers": ['alertname="ForecastSlip"'], "equal": ["team", "squad"]},
            ]
        }
    )  # fmt: skip

    def alert(fp: str, **labels: str) -> dict[str, Any]:
        return {"fingerprint": fp, "labels": labels, "state": "firing"}

    wip = alert("w", alertname="WipOverLimit", team="core", severity="critical")
    other = alert("o", alertname="PastDue", team="growth", severity="critical")
    slip = alert("s", alertname="ForecastSlip", team="core")
    elsewhere = alert("e", alertname="ForecastSlip", team="growth", squad="a")
    found = Inhibitors([wip, other, slip, elsewhere], config.inhibit_rules)
    assert found.of(slip) == ["w"]  # by both rules, named once
    assert found.of(elsewhere) == ["o"]  # squad differs for the second rule
    assert found.of(wip) == [] and found.of(other) == []  # each its team's only source
    assert Inhibitors([wip, slip], []).of(slip) == []


def test_groups_flush_every_group_interval_and_a_flush_with_nothing_to_say_writes_nothing(
) -> None:
    """A group flushes at its first flush time, then every group_interval: an alert that
    joins in between waits for the next one. Flushes that tell nothing change no record
    (at a thousand groups, writing each one at every flush was a thousand records every
    group_interval), and the next plan is due at the next flush time."""
    sim = Sim({**CONFIG, "route": {**CONFIG["route"], "group_by": ["team"]}})
    sim.run(T0, 15, [seen(for_=0)])  # group_wait 10 s, group_interval 1 min
    assert sim.statuses() == [("firing", 1, 0)]
    written = sim.written
    sim.run(T0 + timedelta(seconds=15), 60, [seen(for_=0)])  # through the flush at 70 s
    assert sim.written == written and len(sim.sent) == 1
    assert next_dispatch(sim.groups, [], T0 + timedelta(seconds=75)) == T0 + timedelta(
        seconds=130
    )
    both = [seen(for_=0), seen("Stalled", for_=0)]
    sim.run(T0 + timedelta(seconds=75), 55, both)  # the second alert joins at 75 s
    assert len(sim.sent) == 1
    sim.tick(T0 + timedelta(seconds=130), both)
    assert sim.statuses() == [("firing", 1, 0), ("firing", 2, 0)]
    assert sim.sent[1].created_at == "2026-03-04T12:02:10.000000Z"


def test_a_group_s_flush_times_follow_its_first_one() -> None:
    """Flush times are derived from the group's first flush and its interval, never
    stored; a group written before that carries its next flush, which serves as the first."""
    group = {"first_flush_at": "2026-03-04T12:00:10Z", "group_interval_seconds": 60.0}
    assert next_flush(group, T0) == T0 + timedelta(seconds=10)
    assert next_flush(group, T0 + timedelta(seconds=10)) == T0 + timedelta(seconds=70)
    assert next_flush(group, T0 + timedelta(seconds=69)) == T0 + timedelta(seconds=70)
    assert next_flush(group, T0 + timedelta(seconds=500)) == T0 + timedelta(seconds=550)
    older = {"next_flush_at": "2026-03-04T12:00:10Z", "group_interval_seconds": 60.0}
    assert next_flush(older, T0 + timedelta(seconds=69)) == T0 + timedelta(seconds=70)


def test_a_restart_mid_incident_sends_nothing_twice() -> None:
    """A new leader reading the persisted state mid-incident does not re-send what was already
    sent.
    """
    sim = Sim()
    sim.run(T0, 300, [seen()])
    assert len(sim.sent) == 1
    # What a new leader reads back from hub.alerting: the same state, through JSON.
    restarted = Sim()
    restarted.alerts = json.loads(json.dumps(sim.alerts))
    restarted.groups = json.loads(json.dumps(sim.groups))
    restarted.run(T0 + timedelta(seconds=300), 600, [seen()])
    assert restarted.sent == []
    restarted.run(T0 + timedelta(seconds=900), 300, [])
    assert restarted.statuses() == [("resolved", 0, 1)]


def test_an_undelivered_notification_is_planned_again_after_a_restart() -> None:
    """A notification handed to delivery but never confirmed is planned again after a restart."""
    sim = Sim()
    sim.alerts, _ = advance({}, [seen(for_=0)], T0)
    groups, _, _ = plan(sim.alerts, {}, [], sim.config, T0)
    sim.groups, _, first = plan(sim.alerts, groups, [], sim.config, T0 + timedelta(seconds=10))
    assert len(first) == 1  # handed to delivery, which never confirmed
    sim.tick(T0 + timedelta(seconds=70), [seen(for_=0)])
    assert sim.statuses() == [("firing", 1, 0)]


def test_in_flight_deliveries_are_not_planned_twice() -> None:
    """A group whose delivery is still in flight is not planned a second time."""
    sim = Sim()
    alerts, _ = advance({}, [seen(for_=0)], T0)
    groups, _, _ = plan(alerts, {}, [], sim.config, T0)
    groups, _, notes = plan(alerts, groups, [], sim.config, T0 + timedelta(seconds=10))
    busy = {(notes[0].group_key, notes[0].integration)}
    _, _, again = plan(alerts, groups, [], sim.config, T0 + timedelta(seconds=80), busy)
    assert again == []


def test_skipped_rules_keep_their_alerts() -> None:
    """Alerts of a rule that failed to evaluate keep their state instead of resolving."""
    alerts, _ = advance({}, [seen(for_=0)], T0)
    kept, changed = advance(alerts, [], T0 + timedelta(seconds=5), skip_alertnames={"WipOverLimit"})
    assert changed == {} and next(iter(kept.values()))["state"] == "firing"


def test_resolved_alerts_are_forgotten_after_retention() -> None:
    """Resolved alerts are deleted (tombstoned) once the retention has passed."""
    alerts, _ = advance({}, [seen(for_=0)], T0)
    alerts, _ = advance(alerts, [], T0 + timedelta(seconds=5))
    alerts, changed = advance(alerts, [], T0 + timedelta(days=8))
    assert alerts == {} and list(changed.values()) == [None]


def test_routes_match_deepest_first_and_continue_to_siblings() -> None:
    """Routing picks the deepest matching route and continues to siblings where continue is set."""
    config = parse_alerting(
        {
            "route": {
                "receiver": "all",
                "group_by": ["alertname"],
                "routes": [
                    {"matchers": ['severity="critical"'], "receiver": "pager", "continue": True},
                    {
                        "matchers": ['team=~"core|growth"'],
                        "receiver": "product",
                        "group_by": ["team"],
                        "group_wait": "1s",
                    },
                ],
            },
            "receivers": [
                {"name": n, "console_configs": [{}]} for n in ("all", "pager", "product")
            ],
        }
    )
    critical = match_routes(config.route, {"severity": "critical", "team": "core"})
    assert [(m.receiver, m.group_by) for m in critical] == [
        ("pager", ("alertname",)),
        ("product", ("team",)),
    ]
    assert critical[1].group_wait == timedelta(seconds=1)
    assert [m.receiver for m in match_routes(config.route, {"team": "ops"})] == ["all"]


def test_a_router_routes_each_label_set_once_and_as_a_fresh_walk_would() -> None:
    """A kept router gives every label set the groups a fresh walk of the tree gives, in
    any label order, working each set out once; a group planned through it owns its
    labels, so changing them cannot change where the next alert goes."""
    config = parse_alerting(
        {
            "route": {
                "receiver": "all",
                "group_by": ["alertname"],
                "routes": [{"matchers": ['team="core"'], "receiver": "core", "group_by": ["team"]}],
            },
            "receivers": [{"name": n, "console_configs": [{}]} for n in ("all", "core")],
        }
    )
    router = Router(config.route)
    core = {"alertname": "WipOverLimit", "team": "core"}
    ops = {"alertname": "PastDue", "team": "ops"}
    for labels in (core, ops):
        fresh = Router(config.route).groups(labels)
        assert router.groups(labels) == fresh
        assert [m for _, _, m in fresh] == match_routes(config.route, labels)
    assert router.groups(dict(reversed(core.items()))) is router.groups(core)
    assert [key for key, _, _ in router.groups(core)] == ['{}/{team="core"}:{team="core"}']
    alerts, _ = advance({}, [seen(for_=0)], T0)
    groups, _, _ = plan(alerts, {}, [], config, T0, router=router)
    next(iter(groups.values()))["group_labels"]["team"] = "changed"
    assert router.groups(core)[0][1] == {"team": "core"}


def test_matchers_read_alertmanager_syntax() -> None:
    """Matchers accept Alertmanager's text and object syntax, with anchored regular expressions."""
    assert parse_matcher('team="core"').matches({"team": "core"})
    assert parse_matcher("team!=core").matches({"team": "growth"})
    assert parse_matcher('severity=~"crit.*"').matches({"severity": "critical"})
    assert not parse_matcher('severity=~"crit"').matches({"severity": "critical"})  # anchored
    assert parse_matcher(
        {"name": "team", "value": "c.*", "isRegex": True, "isEqual": False}
    ).matches({"team": "growth"})
