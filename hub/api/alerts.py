"""``/api/v1/alerts``, ``/silences``, ``/notifications``, ``/digest``: the alerting surface.

Alert and silence shapes follow Alertmanager's API (``status.state``, ``silencedBy``,
``inhibitedBy``; silences with ``matchers``, ``startsAt``, ``endsAt``, ``createdBy``,
``comment``), so its habits and scripts carry over. Any worker answers from its store.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View
from pydantic import ValidationError

from alerts.digest import build_digest
from alerts.dispatch import firing_alerts, integrations, mute_status
from alerts.engine import FIRING, PENDING, RECOVERING
from alerts.rules import drift_inputs
from alerts.silences import SilenceRequest, expire, new_silence, silence_state
from hub.api.errors import ApiError
from hub.api.params import Query, page_body, paginate
from hub.events import utcnow
from hub.validation import problems_from

if TYPE_CHECKING:
    from hub.alerting import AlertingService
    from hub.app import HubApp

__all__ = ["register", "ALERT_STATES"]

ALERT_STATES = ("active", "pending", "firing", "recovering", "resolved", "inactive")
_ACTIVE = (PENDING, FIRING, RECOVERING)


def _public(
    alert: dict[str, Any],
    service: AlertingService,
    firing: list[dict[str, Any]],
    history: bool = False,
) -> dict:
    """``firing``: the store's firing alerts, computed once per request."""
    store, now = service.store, utcnow()
    muted = mute_status(alert, firing, store.silences.values(), service.config, now)
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


def _silence(silence: dict[str, Any]) -> dict[str, Any]:
    return {**silence, "status": {"state": silence_state(silence, utcnow())}}


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.text())
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"request body is not JSON: {exc}") from None


def register(app: HubApp) -> None:
    def service() -> AlertingService:
        return app.alerting  # type: ignore[attr-defined, no-any-return]

    @app.page("/api/v1/alerts")
    async def alerts(self: View, request: Request) -> Response:
        query = Query(
            request,
            {"state", "team", "alertname", "severity", "roadmap_item", "limit", "cursor"},
        )
        state = query.choice("state", ALERT_STATES)
        wanted = {n: query.text(n) for n in ("team", "alertname", "severity", "roadmap_item")}
        rows = []
        firing = firing_alerts(service().store.alerts.values())
        for alert in service().store.alerts.values():
            if state == "active" and alert["state"] not in _ACTIVE:
                continue
            if state not in (None, "active") and alert["state"] != state:
                continue
            if state is None and alert["state"] == "inactive":
                continue  # cleared while pending: only on request
            if any(v and alert["labels"].get(n) != v for n, v in wanted.items()):
                continue
            rows.append(_public(alert, service(), firing))
        page, token = paginate(rows, lambda r: r["fingerprint"], query.cursor(), query.limit())
        return self.json(page_body(page, token))

    @app.page("/api/v1/alerts/groups")
    async def alert_groups(self: View, request: Request) -> Response:
        Query(request, set())
        groups = [
            {
                "key": g["key"],
                "receiver": g["receiver"],
                "labels": g["group_labels"],
                "created_at": g["created_at"],
                "next_flush_at": g["next_flush_at"],
                "notified": g["notified"],
            }
            for g in sorted(service().store.groups.values(), key=lambda g: g["key"])
        ]
        return self.json({"items": groups, "next_cursor": None})

    @app.page("/api/v1/alerts/{fingerprint}")
    async def alert(self: View, request: Request, fingerprint: str) -> Response:
        Query(request, set())
        found = service().store.alerts.get(fingerprint)
        if found is None:
            raise ApiError(404, "not_found", f"no alert {fingerprint!r}")
        firing = firing_alerts(service().store.alerts.values())
        return self.json(_public(found, service(), firing, history=True))

    @app.page("/api/v1/notifications")
    async def notifications(self: View, request: Request) -> Response:
        query = Query(request, {"status", "receiver", "kind"})
        status = query.choice("status", ("delivered", "retrying", "failed"))
        receiver, kind = query.text("receiver"), query.choice("kind", ("notification", "digest"))
        rows = [
            r
            for r in reversed(service().store.deliveries.values())
            if (status is None or r["status"] == status)
            and (receiver is None or r["receiver"] == receiver)
            and (kind is None or r["kind"] == kind)
        ]
        return self.json({"items": rows, "next_cursor": None})

    @app.page("/api/v1/silences")
    class Silences(View):
        async def get(self, request: Request) -> Response:
            query = Query(request, {"state"})
            state = query.choice("state", ("active", "pending", "expired"))
            rows = [_silence(s) for s in service().store.silences.values()]
            rows = [r for r in rows if state is None or r["status"]["state"] == state]
            rows.sort(key=lambda r: r["endsAt"], reverse=True)
            return self.json({"items": rows, "next_cursor": None})

        async def post(self, request: Request) -> Response:
            Query(request, set())
            body = await _json_body(request)
            try:
                wanted = SilenceRequest.model_validate(body)
                silence = new_silence(wanted, utcnow())
            except ValidationError as exc:
                fields = [p.as_dict() for p in problems_from(exc)]
                raise ApiError(422, "invalid_silence", "the silence is not valid", fields) from None
            except ValueError as exc:
                raise ApiError(422, "invalid_silence", str(exc)) from None
            await service().write("silence", silence["id"], silence)
            return self.json({"silenceID": silence["id"], **_silence(silence)}, status=201)

    @app.page("/api/v1/silences/{silence_id}")
    class OneSilence(View):
        async def get(self, request: Request, silence_id: str) -> Response:
            Query(request, set())
            found = service().store.silences.get(silence_id)
            if found is None:
                raise ApiError(404, "not_found", f"no silence {silence_id!r}")
            return self.json(_silence(found))

        async def delete(self, request: Request, silence_id: str) -> Response:
            """Expire it now; the record stays, as in Alertmanager."""
            Query(request, set())
            found = service().store.silences.get(silence_id)
            if found is None:
                raise ApiError(404, "not_found", f"no silence {silence_id!r}")
            expired = expire(found, utcnow())
            await service().write("silence", silence_id, expired)
            return self.json(_silence(expired))

    @app.page("/api/v1/digest")
    async def digest(self: View, request: Request) -> Response:
        """The digest as it would be sent now: for a team, or for leadership."""
        query = Query(request, {"team", "days"})
        team, raw_days = query.text("team"), query.text("days") or "7"
        if not raw_days.isdigit() or not 1 <= int(raw_days) <= 92:
            raise ApiError(400, "bad_parameter", "days must be a whole number 1..92")
        now = utcnow()
        entities, index = app.read_model.snapshot()  # type: ignore[attr-defined]
        if team and team not in entities.get("team", {}):
            raise ApiError(404, "not_found", f"no team {team!r} in the roadmap")
        inputs = await asyncio.to_thread(drift_inputs, entities, index, now, service().config)
        body = build_digest(
            inputs, service().store.alerts, now - timedelta(days=int(raw_days)), team=team
        )
        return self.json(body)

    @app.page("/api/v1/alerting/status")
    async def alerting_status(self: View, request: Request) -> Response:
        """What the engine runs with: rules, receivers, the last evaluation."""
        Query(request, set())
        s = service()
        config = s.config
        return self.json(
            {
                "leader": app.is_leader(),
                "caught_up": s.store.caught_up,
                "last_evaluation": s.last_evaluation,
                "evaluation_interval_seconds": config.evaluation_interval.total_seconds(),
                "rules": config.rules.model_dump(mode="json", by_alias=True),
                "receivers": {
                    r.name: [name for name, _ in integrations(r)] for r in config.receivers
                },
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
        )
