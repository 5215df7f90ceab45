"""Alerts pages: what fires, what is pending, what resolved, with the numbers behind them;
one alert's history; silences (created from an alert with its matchers filled in, listed,
expired) and the notification delivery log.

Silences are written exactly as ``POST /api/v1/silences`` writes them (the same request
model, the same store write), so the API and the page cannot disagree on what is valid.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from alerts.dispatch import inhibitors
from alerts.engine import FIRING, PENDING, RECOVERING, RESOLVED
from alerts.silences import SilenceRequest, new_silence
from core.events import iso, utcnow
from core.validation import problems_from
from hub.api import alerts as api
from hub.api.declare import Call, Routes
from hub.api.errors import ApiError
from hub.dashboard.frame import form_fields, frame, html
from hub.dashboard.render import see_other
from hub.dashboard.session import safe_next

__all__ = ["ROUTES", "MATCHER_LABELS"]

ROUTES = Routes("dashboard")
MATCHER_LABELS = ("alertname", "team", "roadmap_item")  # what a silence from an alert matches
DURATIONS = {"1h": 1, "4h": 4, "1d": 24, "3d": 72, "7d": 168}
LOG_ROWS = 50


def _sections(call: Call) -> dict[str, list[dict[str, Any]]]:
    service = call.services.alerting
    alerts = list(service.store.alerts.values())
    inhibiting = inhibitors(alerts, service.config)
    bodies = [api.alert_body(a, service, inhibiting) for a in alerts]
    by_state: dict[str, list[dict[str, Any]]] = {"firing": [], "pending": [], "resolved": []}
    for body in sorted(bodies, key=lambda b: b["updatedAt"] or "", reverse=True):
        if body["state"] in (FIRING, RECOVERING):
            by_state["firing"].append(body)
        elif body["state"] == PENDING:
            by_state["pending"].append(body)
        elif body["state"] == RESOLVED:
            by_state["resolved"].append(body)
    return by_state


@ROUTES.get("/alerts", "Alerts, silences and notifications", page=True, media_type="text/html")
async def alerts_page(call: Call) -> Any:
    f = frame(call)
    store = call.services.alerting.store
    silences = sorted(
        (api.silence_body(s) for s in store.silences.values()),
        key=lambda s: s["endsAt"],
        reverse=True,
    )
    deliveries = list(reversed(store.deliveries.values()))[:LOG_ROWS]
    return html(
        "alerts.html",
        f.context(
            "alerts",
            "Alerts",
            sections=_sections(call),
            silences=silences,
            deliveries=deliveries,
        ),
    )


def _alert_or_404(call: Call, fingerprint: str) -> dict[str, Any]:
    service = call.services.alerting
    found = service.store.alerts.get(fingerprint)
    if found is None:
        raise ApiError(404, "not_found", f"There is no alert {fingerprint!r}.")
    return api.alert_body(
        found, service, inhibitors(service.store.alerts.values(), service.config), history=True
    )


def _alert_page(
    call: Call, alert: dict[str, Any], form: dict[str, str], errors: dict[str, str], status: int
) -> web.Response:
    f = frame(call)
    silences = [
        api.silence_body(call.services.alerting.store.silences[s])
        for s in alert["status"]["silencedBy"]
        if s in call.services.alerting.store.silences
    ]
    return html(
        "alert.html",
        f.context(
            "alerts",
            alert["labels"].get("alertname", "Alert"),
            alert=alert,
            silences=silences,
            form=form,
            errors=errors,
            durations=list(DURATIONS),
        ),
        status=status,
    )


@ROUTES.get(
    "/alerts/{fingerprint}",
    "One alert with its history, and a silence form",
    params=(api.FINGERPRINT,),
    page=True,
    media_type="text/html",
)
async def alert_page(call: Call) -> Any:
    alert = _alert_or_404(call, call.args["fingerprint"])
    matchers = "\n".join(
        f'{name}="{alert["labels"][name]}"' for name in MATCHER_LABELS if name in alert["labels"]
    )
    form = {"matchers": matchers, "duration": "1d", "comment": ""}
    return _alert_page(call, alert, form, {}, 200)


@ROUTES.post(
    "/alerts/{fingerprint}/silence",
    "Silence this alert",
    params=(api.FINGERPRINT,),
    page=True,
)
async def silence_alert(call: Call) -> Any:
    alert = _alert_or_404(call, call.args["fingerprint"])
    form = await form_fields(call)
    errors: dict[str, str] = {}
    comment = form.get("comment", "").strip()
    hours = DURATIONS.get(form.get("duration", ""))
    if hours is None:
        errors["duration"] = f"Pick one of {', '.join(DURATIONS)}."
    if not comment:
        errors["comment"] = "Say why, so the next person knows."
    # one matcher a line, in Alertmanager's syntax: name="value", name=~"regex", name!="value"
    matchers = [line.strip() for line in form.get("matchers", "").splitlines() if line.strip()]
    if not matchers:
        errors["matchers"] = 'At least one matcher, like team="payments".'
    if not errors:
        now = utcnow()
        try:
            wanted = SilenceRequest.model_validate({
                "matchers": matchers,
                "startsAt": iso(now),
                "endsAt": iso(now + timedelta(hours=hours or 0)),
                "createdBy": "dashboard",
                "comment": comment,
            })  # fmt: skip
            silence = new_silence(wanted, now)
        except ValidationError as exc:
            for problem in problems_from(exc):
                field = problem.field.split(".")[0]
                errors.setdefault(field if field in form else "matchers", problem.message)
        except ValueError as exc:
            errors["matchers"] = str(exc)
    if errors:
        return _alert_page(call, alert, form, errors, 422)
    await call.services.alerting.write("silence", silence["id"], silence)
    return see_other(f"/alerts/{alert['fingerprint']}")


@ROUTES.post(
    "/silences/{silence_id}/expire",
    "Expire a silence now",
    params=(api.SILENCE_ID,),
    page=True,
)
async def expire_silence(call: Call) -> Any:
    await api.expire_silence(call)  # the API's own handler: 404 when there is none
    return see_other(safe_next((await form_fields(call)).get("back")))
