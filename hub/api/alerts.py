"""``/api/v1/alerts``, ``/silences``, ``/notifications``, ``/digest``: the alerting surface.

Alert and silence shapes follow Alertmanager's API (``status.state``, ``silencedBy``,
``inhibitedBy``; silences with ``matchers``, ``startsAt``, ``endsAt``, ``createdBy``,
``comment``), so its habits and scripts carry over. Any worker answers from its store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from alerts.digest import build_digest
from alerts.dispatch import inhibitors, integrations, mute_status, next_flush
from alerts.engine import FIRING, PENDING, RECOVERING
from alerts.inhibition import Inhibitors
from alerts.silences import SilenceRequest, expire, new_silence, silence_state
from core.events import iso, utcnow
from core.validation import problems_from
from hub.api.declare import (
    CURSOR,
    LIMIT,
    Call,
    Reply,
    Routes,
    choice,
    integer,
    page_body,
    paginate,
    text,
)
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.snapshots import snapshot
from hub.drift_inputs import drift_inputs_forked

if TYPE_CHECKING:
    from hub.alerting import AlertingService

__all__ = [
    "ROUTES",
    "ALERT_STATES",
    "FINGERPRINT",
    "SILENCE_ID",
    "alert_body",
    "expire_silence",
    "silence_body",
]

ROUTES = Routes("alerts")

FINGERPRINT = path_param("fingerprint", "An alert's fingerprint.")
SILENCE_ID = path_param("silence_id", "A silence's id.")
ALERT_STATES = ("active", "pending", "firing", "recovering", "resolved", "inactive")
_ACTIVE = (PENDING, FIRING, RECOVERING)


def alert_body(
    alert: dict[str, Any],
    service: AlertingService,
    inhibiting: Inhibitors,
    history: bool = False,
) -> dict:
    """``inhibiting``: the store's ``inhibitors``, worked out once per request."""
    store, now = service.store, utcnow()
    muted = mute_status(alert, inhibiting, store.silences.values(), now)
    suppressed = alert["state"] in (FIRING, RECOVERING) and (
        muted["silencedBy"] or muted["inhibitedBy"]
    )
    body = {
        "fingerprint": alert["fingerprint"],
        "state": alert["state"],
        "labels": alert["labels"],
        "annotations": alert["annotations"],
        "value": alert["value"],
        "activeAt": alert.get("active_at"),
        "startsAt": alert.get("starts_at"),
        "endsAt": alert.get("ends_at"),
        "updatedAt": alert.get("updated_at"),
        "status": {"state": "suppressed" if suppressed else "active", **muted},
    }
    if history:
        body["history"] = alert.get("history", [])
    return body


def silence_body(silence: dict[str, Any]) -> dict[str, Any]:
    return {**silence, "status": {"state": silence_state(silence, utcnow())}}


@ROUTES.get(
    "/api/v1/alerts",
    "Alerts with state and mute status (Alertmanager's shape)",
    params=(
        choice("state", ALERT_STATES),
        text("team"),
        text("alertname"),
        text("severity"),
        text("roadmap_item"),
        LIMIT,
        CURSOR,
    ),
)
async def list_alerts(call: Call) -> Any:
    service = call.services.alerting
    state = call.args["state"]
    wanted = {n: call.args[n] for n in ("team", "alertname", "severity", "roadmap_item")}
    rows = []
    inhibiting = inhibitors(service.store.alerts.values(), service.config)
    for alert in service.store.alerts.values():
        if state == "active" and alert["state"] not in _ACTIVE:
            continue
        if state not in (None, "active") and alert["state"] != state:
            continue
        if state is None and alert["state"] == "inactive":
            continue  # cleared while pending: only on request
        if any(v and alert["labels"].get(n) != v for n, v in wanted.items()):
            continue
        rows.append(alert_body(alert, service, inhibiting))
    page, token = paginate(
        rows, lambda r: r["fingerprint"], call.args["cursor"], call.args["limit"]
    )
    return page_body(page, token)


@ROUTES.get("/api/v1/alerts/groups", "Notification groups and what each was told")
async def alert_groups(call: Call) -> Any:
    now = utcnow()
    groups = [
        {
            "key": g["key"],
            "receiver": g["receiver"],
            "labels": g["group_labels"],
            "created_at": g["created_at"],
            "next_flush_at": iso(next_flush(g, now)),
            "notified": g["notified"],
        }
        for g in sorted(call.services.alerting.store.groups.values(), key=lambda g: g["key"])
    ]
    return {"items": groups, "next_cursor": None}


@ROUTES.get(
    "/api/v1/alerts/{fingerprint}",
    "One alert with its state history",
    params=(FINGERPRINT,),
)
async def one_alert(call: Call) -> Any:
    service = call.services.alerting
    fingerprint = call.args["fingerprint"]
    found = service.store.alerts.get(fingerprint)
    if found is None:
        raise ApiError(404, "not_found", f"no alert {fingerprint!r}")
    inhibiting = inhibitors(service.store.alerts.values(), service.config)
    return alert_body(found, service, inhibiting, history=True)


@ROUTES.get(
    "/api/v1/notifications",
    "Delivery log: delivered, retrying and failed notifications and digests",
    params=(
        choice("status", ("delivered", "retrying", "failed")),
        text("receiver"),
        choice("kind", ("notification", "digest")),
    ),
)
async def notifications(call: Call) -> Any:
    status, receiver, kind = call.args["status"], call.args["receiver"], call.args["kind"]
    rows = [
        r
        for r in reversed(call.services.alerting.store.deliveries.values())
        if (status is None or r["status"] == status)
        and (receiver is None or r["receiver"] == receiver)
        and (kind is None or r["kind"] == kind)
    ]
    return {"items": rows, "next_cursor": None}


@ROUTES.get(
    "/api/v1/silences", "Silences", params=(choice("state", ("active", "pending", "expired")),)
)
async def list_silences(call: Call) -> Any:
    state = call.args["state"]
    rows = [silence_body(s) for s in call.services.alerting.store.silences.values()]
    rows = [r for r in rows if state is None or r["status"]["state"] == state]
    rows.sort(key=lambda r: r["endsAt"], reverse=True)
    return {"items": rows, "next_cursor": None}


@ROUTES.post(
    "/api/v1/silences",
    "Create a silence",
    body=SilenceRequest,
    status=201,
    responses={422: "The silence is not valid: every problem with its field"},
)
async def create_silence(call: Call) -> Any:
    body = await call.json()
    try:
        wanted = SilenceRequest.model_validate(body)
        silence = new_silence(wanted, utcnow())
    except ValidationError as exc:
        fields = [p.as_dict() for p in problems_from(exc)]
        raise ApiError(422, "invalid_silence", "the silence is not valid", fields) from None
    except ValueError as exc:
        raise ApiError(422, "invalid_silence", str(exc)) from None
    await call.services.alerting.write("silence", silence["id"], silence)
    return Reply({"silenceID": silence["id"], **silence_body(silence)}, status=201)


@ROUTES.get("/api/v1/silences/{silence_id}", "One silence", params=(SILENCE_ID,))
async def one_silence(call: Call) -> Any:
    silence_id = call.args["silence_id"]
    found = call.services.alerting.store.silences.get(silence_id)
    if found is None:
        raise ApiError(404, "not_found", f"no silence {silence_id!r}")
    return silence_body(found)


@ROUTES.delete("/api/v1/silences/{silence_id}", "Expire a silence now", params=(SILENCE_ID,))
async def expire_silence(call: Call) -> Any:
    """Expire it now; the record stays, as in Alertmanager."""
    silence_id = call.args["silence_id"]
    found = call.services.alerting.store.silences.get(silence_id)
    if found is None:
        raise ApiError(404, "not_found", f"no silence {silence_id!r}")
    expired = expire(found, utcnow())
    await call.services.alerting.write("silence", silence_id, expired)
    return silence_body(expired)


@ROUTES.get(
    "/api/v1/digest",
    "The digest as it would be sent now",
    params=(
        text("team", "One team; none: leadership."),
        integer("days", 1, 92, 7, "The period the digest covers."),
    ),
    responses={404: "No such team in the roadmap"},
)
async def digest(call: Call) -> Any:
    """The digest as it would be sent now: for a team, or for leadership."""
    service = call.services.alerting
    team, days = call.args["team"], call.args["days"]
    now = utcnow()
    snap = await snapshot(call.services, None)
    if team and team not in snap.entities.get("team", {}):
        raise ApiError(404, "not_found", f"no team {team!r} in the roadmap")
    inputs = await drift_inputs_forked(snap.entities, snap.index.at(now), now, service.config)
    return build_digest(inputs, service.store.alerts, now - timedelta(days=days), team=team)


@ROUTES.get(
    "/api/v1/alerting/status", "Rules, receivers and inhibition in effect; the last evaluation"
)
async def alerting_status(call: Call) -> Any:
    """What the engine runs with: rules, receivers, the last evaluation."""
    s = call.services.alerting
    config = s.config
    return {
        "leader": call.services.app.is_leader(),
        "caught_up": s.store.caught_up,
        "last_evaluation": s.last_evaluation,
        "evaluation_interval_seconds": config.evaluation_interval.total_seconds(),
        "rules": config.rules.model_dump(mode="json", by_alias=True),
        "receivers": {r.name: [name for name, _ in integrations(r)] for r in config.receivers},
        "inhibit_rules": [
            {
                "source_matchers": [str(m) for m in rule.source_matchers],
                "target_matchers": [str(m) for m in rule.target_matchers],
                "equal": rule.equal,
            }
            for rule in config.inhibit_rules
        ],
        "digests": [d.model_dump(mode="json") for d in config.digests],
        "pending_deliveries": s.deliverer.queued,
    }
