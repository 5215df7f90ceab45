"""Customer accounts, deals and requests: the demand behind the roadmap.

A request's lifecycle is opened -> linked to work -> delivered (the linked work is done)
or closed. Links point at work items or roadmap items; the roadmap rollup joins them.
"""

from __future__ import annotations

from typing import Any

from core.events import (
    CustomerAccountDeleted,
    CustomerAccountUpserted,
    CustomerRequestClosed,
    CustomerRequestEscalated,
    CustomerRequestLinked,
    CustomerRequestOpened,
    CustomerRequestStatusChanged,
    DealDeleted,
    DealLinked,
    DealStageChanged,
    DealUpserted,
    Event,
    iso,
)
from projections.timeline import insert_sorted

__all__ = ["fold_account", "fold_deal", "fold_request", "current_links", "REOPENED"]

# statuses that mean a closed request is being worked on again
REOPENED = frozenset({"new", "open", "pending", "hold", "snoozed"})

State = dict[str, Any]


def _latest(state: State, field: str, at: str) -> bool:
    """Whether a fact at ``at`` is at least as new as the one stored for ``field``."""
    return at >= state.setdefault("_at", {}).get(field, "")


def _stamp(state: State, field: str, at: str) -> dict[str, str]:
    return {**state.get("_at", {}), field: at}


def fold_account(state: State | None, event: Event) -> State:
    state = state or {"kind": "customer_account", "key": event.entity.key, "_at": {}}
    at = iso(event.occurred_at)
    if isinstance(event, CustomerAccountUpserted) and _latest(state, "snapshot", at):
        payload = event.payload.model_dump(mode="json")
        state = {**state, **payload, "_at": _stamp(state, "snapshot", at), "updated_at": at}
    if isinstance(event, CustomerAccountDeleted):
        state = {**state, "deleted_at": at}
    return state


def _link(state: State, at: str, relation: str, kind: str, key: str, removed: bool) -> State:
    links = {k: dict(v) for k, v in state.get("links", {}).items()}
    target = f"{kind}/{key}"
    current = links.get(target)
    if current is None or at >= current["at"]:
        links[target] = {"at": at, "relation": relation, "removed": removed}
    return {**state, "links": links}


def current_links(state: State, kind: str) -> list[str]:
    prefix = f"{kind}/"
    return sorted(
        t[len(prefix) :]
        for t, v in state.get("links", {}).items()
        if t.startswith(prefix) and not v["removed"]
    )


def fold_deal(state: State | None, event: Event) -> State:
    state = state or {"kind": "deal", "key": event.entity.key, "_at": {}, "stages": [], "links": {}}
    at = iso(event.occurred_at)
    match event:
        case DealUpserted():
            if _latest(state, "snapshot", at):
                payload = event.payload.model_dump(mode="json")
                state = {**state, **payload, "_at": _stamp(state, "snapshot", at)}
        case DealStageChanged():
            move = {"at": at, "from": event.payload.from_stage, "to": event.payload.to_stage}
            state = {**state, "stages": insert_sorted(state["stages"], move)}
        case DealDeleted():
            state = {**state, "deleted_at": at}
        case DealLinked():
            p = event.payload
            state = _link(state, at, p.relation, p.target.kind, p.target.key, p.removed)
    return state


def fold_request(state: State | None, event: Event) -> State:
    state = state or {
        "kind": "customer_request",
        "key": event.entity.key,
        "_at": {},
        "statuses": [],
        "links": {},
        "escalations": [],
        "opened_at": None,
        "closed_at": None,
    }
    at = iso(event.occurred_at)
    match event:
        case CustomerRequestOpened():
            payload = event.payload.model_dump(mode="json")
            status = payload.pop("status")  # the status at opening, when the source knew it
            if _latest(state, "snapshot", at):
                state = {**state, **payload, "_at": _stamp(state, "snapshot", at)}
            if status is not None and _latest(state, "status", at):
                state = {**state, "status": status, "_at": _stamp(state, "status", at)}
            state.setdefault("status", None)
            if state["opened_at"] is None or at < state["opened_at"]:
                state = {**state, "opened_at": at}
        case CustomerRequestStatusChanged():
            move = {"at": at, "from": event.payload.from_status, "to": event.payload.to_status}
            state = {**state, "statuses": insert_sorted(state["statuses"], move)}

            if _latest(state, "status", at):
                state = {
                    **state,
                    "status": event.payload.to_status,
                    "_at": _stamp(state, "status", at),
                }
        case CustomerRequestEscalated():
            escalation = {"at": at, "team": event.payload.team}
            state = {**state, "escalations": insert_sorted(state["escalations"], escalation)}
        case CustomerRequestLinked():
            p = event.payload
            state = _link(state, at, p.relation, p.target.kind, p.target.key, p.removed)
        case CustomerRequestClosed():
            closure = {"at": at, "resolution": event.payload.resolution}
            state = {**state, "closures": insert_sorted(state.get("closures", []), closure)}
    return _settle(state)


def _settle(state: State) -> State:
    """Closed at the first closure since the latest move back to an open status.

    The first, because sources restate a closure later (Zendesk's solved then closed, a
    snapshot saying "closed as of its last update"): the request ended when it was first
    closed. Derived from the sorted histories, so arrival order cannot matter.
    """
    closures = state.get("closures", [])
    reopened = max((s["at"] for s in state["statuses"] if s["to"] in REOPENED), default="")
    since = [c for c in closures if c["at"] >= reopened]
    if since:
        first = since[0]
        resolution = since[-1]["resolution"]
        return {**state, "closed_at": first["at"], "resolution": resolution}
    return {**state, "closed_at": None, "resolution": None}
