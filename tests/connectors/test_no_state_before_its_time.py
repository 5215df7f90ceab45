"""No state before its time, in every connector's mapping (a property test).

For any record a source can show — with a history of status changes, or with none
(archived, scrubbed, imported) — the events a mapping makes must place every status
between the record's creation and its last update, end in the record's current status,
and, when the source gave no history, claim that status only as of the last update.

canonical_http is not here: it maps nothing, it relays canonical events the source made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Connector
from connectors.config import build_connector, parse_config
from connectors.hubspot.mapping import map_deal, map_ticket
from connectors.intercom.mapping import map_conversation
from connectors.jira.mapping import FieldIds, MappingContext, category_of, map_issue
from connectors.salesforce.mapping import map_record
from connectors.zendesk.mapping import ZendeskContext, audit_changes, map_history
from connectors.zendesk.mapping import map_ticket as map_zendesk_ticket
from core.events import Event
from core.secrets import SecretResolver
from emulators.hubspot import PIPELINE, TICKET_PIPELINE, hs_time
from emulators.jira import STATUSES, jira_time, status_field
from emulators.salesforce import sf_time

SETTINGS = {
    "jira": {"base_url": "https://jira.example", "email": "a@example.com", "api_token": "${env:X}"},
    "zendesk": {
        "base_url": "https://zd.example",
        "email": "a@example.com",
        "api_token": "${env:X}",
    },
    "intercom": {"access_token": "${env:X}"},
    "hubspot": {"access_token": "${env:X}"},
    "salesforce": {
        "instance_url": "https://sf.example",
        "client_id": "c",
        "client_secret": "${env:X}",
        "refresh_token": "${env:X}",
    },
}


def _connector(type_name: str) -> Connector:
    valid = parse_config(
        {"name": f"prop-{type_name}", "type": type_name, "settings": SETTINGS[type_name]}
    )
    return build_connector(valid, SecretResolver({}))


MAKE = {name: _connector(name).event for name in SETTINGS}


@dataclass
class Record:
    """What a source showed, and what the mapping made of it."""

    events: list[Event]
    created: datetime
    updated: datetime
    current: str
    had_history: bool


def _status_points(events: list[Event]) -> list[tuple[datetime, int, str]]:
    """(time, order, status) for every event that states a status or stage."""
    points = []
    for order, event in enumerate(events):
        payload = event.payload
        value = None
        if event.type in ("work_item.created", "work_item.updated"):
            value = payload.status  # type: ignore[union-attr]
        elif event.type in ("work_item.status_changed", "customer_request.status_changed"):
            value = payload.to_status  # type: ignore[union-attr]
        elif event.type == "customer_request.opened":
            value = payload.status  # type: ignore[union-attr]
        elif event.type == "deal.upserted":
            value = payload.stage  # type: ignore[union-attr]
        elif event.type == "deal.stage_changed":
            value = payload.to_stage  # type: ignore[union-attr]
        if value is not None:
            points.append((event.occurred_at, order, value))
    return points


def _check(record: Record) -> None:
    points = _status_points(record.events)
    assert points, "the mapping states the record's status somewhere"
    for at, _, value in points:
        assert record.created <= at <= record.updated, (value, at, record)
    assert max(points)[2] == record.current
    if not record.had_history:
        assert all(at == record.updated for at, _, _ in points), points


# --- the shape every source shares: a creation, changes between, a last update ----------

MOMENT = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 6, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@st.composite
def lives(draw: Any, states: list[str]) -> tuple[datetime, list[tuple[datetime, str]], datetime]:
    """A creation, zero or more status changes after it (seconds apart), a last update."""
    created = draw(MOMENT)
    moves, at = [], created
    for _ in range(draw(st.integers(0, 4))):
        at += timedelta(seconds=draw(st.integers(1, 86_400 * 5)))
        moves.append((at, draw(st.sampled_from(states))))
    updated = at + timedelta(seconds=draw(st.integers(0, 86_400 * 3)))
    return created, moves, updated


def _current(draw: Any, moves: list[tuple[datetime, str]], states: list[str]) -> str:
    return moves[-1][1] if moves else draw(st.sampled_from(states))


# --- one generator per connector ----------------------------------------------------------

JIRA_STATES = [s["name"] for s in STATUSES]


@st.composite
def jira(draw: Any) -> Record:
    created, moves, updated = draw(lives(JIRA_STATES))
    current = _current(draw, moves, JIRA_STATES)
    first = draw(st.sampled_from(JIRA_STATES))
    histories, previous = [], first
    for n, (at, to) in enumerate(moves):
        item = {"field": "status", "fieldId": "status", "fromString": previous, "toString": to}
        histories.append({"id": str(n), "created": jira_time(at), "items": [item]})
        previous = to
    issue = {
        "id": "1",
        "key": "P-1",
        "fields": {
            "summary": "s",
            "issuetype": {"name": "Story"},
            "project": {"key": "P"},
            "status": status_field(current),
            "created": jira_time(created),
            "updated": jira_time(updated),
        },
        "changelog": {"total": len(histories), "histories": histories},
    }
    categories = {s["name"]: category_of(s) or "todo" for s in STATUSES}
    context = MappingContext(MAKE["jira"], "https://jira.example", FieldIds(), categories)
    return Record(map_issue(issue, context), created, updated, current, bool(moves))


ZENDESK_STATES = ["new", "open", "pending", "hold", "solved", "closed"]


@st.composite
def zendesk(draw: Any) -> Record:
    created, moves, updated = draw(lives(ZENDESK_STATES))
    current = _current(draw, moves, ZENDESK_STATES)
    audits = [
        {
            "id": n,
            "ticket_id": 7,
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "events": [{"id": 100 + n, "type": "Change", "field_name": "status", "value": to}],
        }
        for n, (at, to) in enumerate(moves)
    ]
    ticket = {
        "id": 7,
        "status": current,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    context = ZendeskContext(MAKE["zendesk"], "https://zd.example")
    events = [
        *map_zendesk_ticket(ticket, context),
        *map_history((c for a in audits for c in audit_changes(a)), context),
    ]
    return Record(events, created, updated, current, bool(moves))


@st.composite
def intercom(draw: Any) -> Record:
    created, moves, updated = draw(lives(["close", "open", "snoozed"]))
    states = {"close": "closed", "open": "open", "snoozed": "snoozed"}
    with_parts = draw(st.booleans())
    current = states[moves[-1][1]] if moves else draw(st.sampled_from(sorted(states.values())))
    closes = [int(at.timestamp()) for at, kind in moves if kind == "close"]
    conversation = {
        "id": "9",
        "created_at": int(created.timestamp()),
        "updated_at": int(updated.timestamp()),
        "state": current,
        "statistics": None
        if with_parts
        else {
            "first_close_at": closes[0] if closes else None,
            "last_close_at": closes[-1] if closes else None,
        },
    }
    parts = [
        {"id": str(n), "part_type": kind, "created_at": int(at.timestamp())}
        for n, (at, kind) in enumerate(moves)
    ]
    settings_ = _connector("intercom").settings
    events = map_conversation(
        MAKE["intercom"],
        conversation,
        None,
        settings_,
        parts if with_parts else None,  # type: ignore[arg-type]
    )
    had = bool(parts) if with_parts else bool(closes)
    return Record(events, created, updated, current, had)


DEAL_STAGES = {s["id"]: s["label"] for s in PIPELINE["stages"]}
TICKET_STAGES = {s["id"]: s["label"] for s in TICKET_PIPELINE["stages"]}


def _stages(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        s["id"]: {
            "label": s["label"],
            "pipeline": pipeline["label"],
            "closed": s["metadata"].get("isClosed") == "true"
            or s["metadata"].get("ticketState") == "CLOSED",
        }
        for s in pipeline["stages"]
    }


@st.composite
def hubspot_deal(draw: Any) -> Record:
    created, moves, updated = draw(lives(sorted(DEAL_STAGES)))
    current = _current(draw, moves, sorted(DEAL_STAGES))
    record = {
        "id": "5",
        "properties": {
            "dealstage": current,
            "createdate": hs_time(created),
            "hs_lastmodifieddate": hs_time(updated),
        },
    }
    history = [{"value": to, "timestamp": hs_time(at)} for at, to in moves]
    settings_ = _connector("hubspot").settings
    events = map_deal(MAKE["hubspot"], record, _stages(PIPELINE), history, [], settings_)  # type: ignore[arg-type]
    return Record(events, created, updated, DEAL_STAGES[current], bool(moves))


@st.composite
def hubspot_ticket(draw: Any) -> Record:
    created, _, updated = draw(lives(sorted(TICKET_STAGES)))
    current = draw(st.sampled_from(sorted(TICKET_STAGES)))
    record = {
        "id": "6",
        "properties": {
            "hs_pipeline_stage": current,
            "createdate": hs_time(created),
            "hs_lastmodifieddate": hs_time(updated),
        },
    }
    settings_ = _connector("hubspot").settings
    events = map_ticket(MAKE["hubspot"], record, _stages(TICKET_PIPELINE), settings_)  # type: ignore[arg-type]
    return Record(events, created, updated, TICKET_STAGES[current], False)


@st.composite
def salesforce_opportunity(draw: Any) -> Record:
    stages = ["Prospecting", "Qualification", "Closed Won"]
    created, moves, updated = draw(lives(stages))
    current = _current(draw, moves, stages)
    settings_ = _connector("salesforce").settings
    make = MAKE["salesforce"]
    opportunity = {
        "Id": "006A",
        "StageName": current,
        "CreatedDate": sf_time(created),
        "SystemModstamp": sf_time(updated),
    }
    events = map_record(make, "Opportunity", opportunity, settings_)  # type: ignore[arg-type]
    for n, (at, to) in enumerate(moves):
        history = {
            "Id": f"008{n}",
            "OpportunityId": "006A",
            "StageName": to,
            "CreatedDate": sf_time(at),
            "SystemModstamp": sf_time(at),
        }
        events += map_record(make, "OpportunityHistory", history, settings_)  # type: ignore[arg-type]
    return Record(events, created, updated, current, bool(moves))


@st.composite
def salesforce_case(draw: Any) -> Record:
    created, _, updated = draw(lives(["New"]))
    current = draw(st.sampled_from(["New", "Working", "Escalated", "Closed"]))
    case = {
        "Id": "500A",
        "Status": current,
        "IsClosed": current == "Closed",
        "ClosedDate": sf_time(updated) if current == "Closed" else None,
        "CreatedDate": sf_time(created),
        "SystemModstamp": sf_time(updated),
    }
    events = map_record(MAKE["salesforce"], "Case", case, _connector("salesforce").settings)  # type: ignore[arg-type]
    return Record(events, created, updated, current, False)


GENERATORS: dict[str, Callable[[], st.SearchStrategy[Record]]] = {
    "jira": jira,
    "zendesk": zendesk,
    "intercom": intercom,
    "hubspot deals": hubspot_deal,
    "hubspot tickets": hubspot_ticket,
    "salesforce opportunities": salesforce_opportunity,
    "salesforce cases": salesforce_case,
}


def test_every_connector_with_a_mapping_has_a_generator_here() -> None:
    """A new connector type must join this property (or say why not, like canonical_http)."""
    from connectors.registry import TYPES

    covered = {name.split()[0] for name in GENERATORS} | {"canonical_http"}
    assert set(TYPES) <= covered


@pytest.mark.parametrize("source", sorted(GENERATORS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_no_status_before_its_time_and_the_last_one_is_the_current(
    source: str, data: st.DataObject
) -> None:
    """Every status a mapping states lies between the record's creation and its last update;
    the latest is the record's current status; with no history, it is stated only as of
    the last update."""
    _check(data.draw(GENERATORS[source]()))
