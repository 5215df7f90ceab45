"""The canonical event model and its codec."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.codec import decode, decode_dict, encode
from core.errors import SkippableError
from core.events import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    CustomerRequestOpened,
    WorkItemStatusChanged,
    make_event_id,
)
from projections.customers import fold_request
from tests.helpers import event_dict


def test_every_event_type_round_trips_through_the_codec() -> None:
    """Encoding then decoding any event type gives back an equal event."""
    samples = {
        "work_item.created": {"title": "T", "labels": ["a"]},
        "work_item.updated": {"status": "Done", "status_category": "done"},
        "work_item.status_changed": {"to_status": "Done", "to_category": "done"},
        "work_item.assigned": {"to_assignee": "ana"},
        "work_item.estimated": {"to_estimate": 3},
        "work_item.linked": {"relation": "parent", "target": {"kind": "work_item", "key": "E-1"}},
        "work_item.deleted": {},
        "work_item.worklog_added": {
            "worklog_id": "1",
            "started_at": "2026-01-01T09:00:00Z",
            "seconds_spent": 3600,
        },
        "customer_account.upserted": {"name": "Acme", "arr": 120000},
        "deal.upserted": {"name": "Big", "amount": 5, "close_date": "2026-03-01"},
        "deal.stage_changed": {"to_stage": "won"},
        "deal.linked": {"relation": "roadmap_item", "target": {"kind": "roadmap_item", "key": "R"}},
        "deal.deleted": {"reason": "archived"},
        "customer_account.deleted": {},
        "customer_request.opened": {"title": "Broken"},
        "customer_request.status_changed": {"to_status": "pending"},
        "customer_request.escalated": {"team": "core"},
        "customer_request.linked": {
            "relation": "work_item",
            "target": {"kind": "work_item", "key": "X-1"},
        },
        "customer_request.closed": {"resolution": "solved"},
        "roadmap_item.planned": {"title": "SSO", "teams": ["core"], "target_date": "2026-06-30"},
        "roadmap_item.changed": {"title": "SSO v2"},
        "roadmap_item.removed": {},
        "team.defined": {"name": "Core", "capacity_fte": 5, "investment_target": {"bugs": 0.2}},
        "investment.defined": {
            "categories": [{"name": "roadmap", "roadmap": True}, {"name": "bugs"}],
            "default": "maintenance",
        },
        "work_item.sprint_changed": {"added": ["jira-sprint-7"], "removed": []},
        "sprint.upserted": {
            "name": "Sprint 7",
            "state": "active",
            "start_at": "2026-03-02T09:00:00Z",
        },
        "theme.edited": {"action": "split", "requests": ["zendesk-1", "zendesk-2"]},
    }
    assert set(samples) == set(EVENT_TYPES)
    for type_, payload in samples.items():
        event = decode_dict(event_dict(type_, "K-1", "c1", payload=payload))
        assert decode(encode(event)) == event, type_


def test_event_ids_are_deterministic_per_source_change() -> None:
    """The same connector, entity, change and type always give the same id; any difference changes it."""
    base = make_event_id("jira-main", "work_item", "X-1", "10001", "work_item.status_changed")
    assert base == make_event_id(
        "jira-main", "work_item", "X-1", "10001", "work_item.status_changed"
    )
    assert base != make_event_id(
        "jira-main", "work_item", "X-1", "10002", "work_item.status_changed"
    )
    assert base != make_event_id(
        "jira-main", "work_item", "X-2", "10001", "work_item.status_changed"
    )
    assert base != make_event_id("jira-main", "work_item", "X-1", "10001", "work_item.assigned")


def test_naive_datetimes_are_rejected_with_the_field_named() -> None:
    """A timestamp without a zone is refused, and the message says which field."""
    raw = event_dict("work_item.created", "X-1", "c")
    raw["occurred_at"] = "2026-01-05T09:00:00"
    with pytest.raises(SkippableError, match=r"occurred_at: Input should have timezone info"):
        decode_dict(raw)


def test_times_are_normalised_to_utc() -> None:
    """An aware time in any zone is stored as the same instant in UTC."""
    at = datetime(2026, 1, 5, 10, tzinfo=timezone(timedelta(hours=2)))
    event = decode_dict(event_dict("work_item.created", "X-1", "c", at=at))
    assert event.occurred_at == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert event.occurred_at.tzinfo == UTC


def test_unknown_types_are_rejected_listing_the_known_ones() -> None:
    """An unknown ``type`` names itself and the vocabulary."""
    with pytest.raises(
        SkippableError, match=r"unknown event type 'work_item.teleported'.*work_item.created"
    ):
        decode_dict(event_dict("work_item.teleported", "X-1", "c", kind="work_item"))


def test_unknown_envelope_fields_are_rejected_but_source_extras_live_in_attributes() -> None:
    """The envelope is strict; a source's extra fields are kept in ``attributes``, never dropped."""
    raw = event_dict("work_item.created", "X-1", "c", payload={"attributes": {"customfield_1": 7}})
    assert decode_dict(raw).payload.attributes == {"customfield_1": 7}
    with pytest.raises(SkippableError, match="surprise: Extra inputs are not permitted"):
        decode_dict({**raw, "surprise": 1})


def test_type_and_entity_kind_must_agree() -> None:
    """A work item event about a deal is refused."""
    raw = event_dict("work_item.created", "X-1", "c", kind="deal")
    with pytest.raises(SkippableError, match="must be about a work_item, not a deal"):
        decode_dict(raw)


def test_version_1_events_are_upcast_on_read() -> None:
    """A v1 event (source as a bare string) reads as the current version."""
    raw = event_dict(
        "work_item.status_changed", "X-1", "c", payload={"to_status": "Done", "to_category": "done"}
    )
    raw.update(schema_version=1, source="jira")
    event = decode(json.dumps(raw))
    assert isinstance(event, WorkItemStatusChanged)
    assert event.schema_version == SCHEMA_VERSION
    assert (event.source.system, event.source.connector) == ("jira", "jira")


def test_version_2_requests_without_text_still_decode_and_fold() -> None:
    """A v2 request (before requests carried their words) reads as the current version
    with no text, and folds exactly as it did."""
    raw = event_dict(
        "customer_request.opened", "Z-1", "o", payload={"title": "Export", "status": "new"}
    )
    raw.update(schema_version=2)
    event = decode(json.dumps(raw))
    assert isinstance(event, CustomerRequestOpened)
    assert event.schema_version == SCHEMA_VERSION and event.payload.text is None
    state = fold_request(None, event)
    assert (state["title"], state["status"], state["text"]) == ("Export", "new", None)


def test_future_schema_versions_and_garbage_are_refused_clearly() -> None:
    """A version this hub cannot read, or bytes that are not JSON, fail with the reason."""
    raw = event_dict("work_item.created", "X-1", "c")
    with pytest.raises(SkippableError, match="unsupported schema_version 99"):
        decode_dict({**raw, "schema_version": 99})
    with pytest.raises(SkippableError, match="not JSON"):
        decode(b"\xff{")
    with pytest.raises(SkippableError, match="must be a JSON object"):
        decode(b"[1]")


def test_events_are_frozen() -> None:
    """An event cannot be changed after it was made."""
    event = decode_dict(event_dict("work_item.created", "X-1", "c"))
    with pytest.raises(Exception, match="frozen"):
        event.event_id = "other"  # type: ignore[misc]
