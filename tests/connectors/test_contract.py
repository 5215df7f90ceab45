"""The connector contract, generated for every connector type (see ``contract.py``)."""

from __future__ import annotations

import json

import pytest
import structlog

from connectors.config import parse_config
from connectors.webhooks import WebhookRejected
from core.errors import HubError
from tests.connectors.contract import HARNESSES, Harness, connector_for
from tests.connectors.helpers import pull_all


def _each(harnesses: tuple[Harness, ...] | list[Harness]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("harness", harnesses, ids=lambda h: h.type_name)


EVERY = _each(HARNESSES)
# Not every source can show every behaviour; each harness says why it cannot.
DELETING = _each([h for h in HARNESSES if h.delete is not None])
PUSHING = _each([h for h in HARNESSES if h.webhook is not None])


@EVERY
def test_backfill_yields_valid_unique_events_and_a_json_cursor(harness: Harness) -> None:
    """A first pull maps every record (no dead letters), ids are unique, the cursor is JSON."""
    with harness.open() as source:
        c = connector_for(harness, source)
        events, cursor = pull_all(c)
    assert events
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids))
    assert {e.source.connector for e in events} == {c.name}
    assert json.loads(json.dumps(cursor)) == cursor


@EVERY
def test_incremental_from_the_cursor_brings_only_what_changed(harness: Harness) -> None:
    """From the backfill's cursor an unchanged source brings nothing new; a change brings its record."""
    with harness.open() as source:
        c = connector_for(harness, source)
        first, cursor = pull_all(c)
        unchanged, cursor = pull_all(c, cursor)
        key = harness.change(source)
        after_change, _ = pull_all(c, cursor)
    seen = {e.event_id for e in first}
    assert {e.event_id for e in unchanged} <= seen
    fresh = [e for e in after_change if e.event_id not in seen]
    assert key in {e.entity.key for e in fresh}


@EVERY
def test_429_and_5xx_are_waited_out_and_lose_nothing(harness: Harness) -> None:
    """Rate limits and server errors on the way slow the backfill down; its events are the same."""
    with harness.open() as source:
        clean, _ = pull_all(connector_for(harness, source))
        source.faults = ["429", "503", "500", "429"]
        troubled, _ = pull_all(connector_for(harness, source))
        assert source.faults == []  # every fault was met
    assert {e.event_id for e in troubled} == {e.event_id for e in clean}


@DELETING
def test_a_record_deleted_at_the_source_is_reported_once(harness: Harness) -> None:
    """A deletion at the source arrives as its deletion event on the next sync, and only once."""
    assert harness.delete is not None
    with harness.open() as source:
        c = connector_for(harness, source)
        _, cursor = pull_all(c)
        key, kind = harness.delete(source)
        events, cursor = pull_all(c, harness.age_cursor(cursor))
        again, _ = pull_all(c, cursor)
    reported = {e.event_id for e in events if (e.entity.key, e.type) == (key, kind)}
    assert reported
    repeated = [e for e in again if (e.entity.key, e.type) == (key, kind)]
    assert {e.event_id for e in repeated} <= reported  # the same report at most, never a new one


@PUSHING
def test_a_webhook_maps_to_the_ids_the_pull_gives(harness: Harness) -> None:
    """A signed delivery is verified and maps to events the pull path also produces, same ids."""
    assert harness.webhook is not None
    with harness.open() as source:
        c = connector_for(harness, source)
        method, uri, headers, body = harness.webhook(source)
        c.verify_webhook(method, uri, headers, body)
        pushed = c.parse_webhook(headers, body)
        pulled, _ = pull_all(c)
    assert pushed.events and not pushed.rejects
    assert {e.event_id for e in pushed.events} <= {e.event_id for e in pulled}


@PUSHING
def test_a_forged_webhook_is_refused(harness: Harness) -> None:
    """A delivery whose body was altered after signing fails verification."""
    assert harness.webhook is not None
    with harness.open() as source:
        c = connector_for(harness, source)
        method, uri, headers, body = harness.webhook(source)
        tampered = body[:-1] + bytes([body[-1] ^ 1])
        with pytest.raises(WebhookRejected):
            c.verify_webhook(method, uri, headers, tampered)


@EVERY
def test_check_passes_and_names_the_credential_when_it_is_refused(harness: Harness) -> None:
    """The live check passes with the right credentials and names the credential field when not."""
    with harness.open() as source:
        assert connector_for(harness, source).check() == []
        wrong = {name: f"{name.lower()}-wrong" for name in harness.secret_names}
        refused = connector_for(harness, source)
        refused.secrets = type(refused.secrets)({**harness.secrets(source), **wrong})
        problems = refused.check()
    assert problems and problems[0].field == harness.credential


@EVERY
def test_secrets_stay_references_and_out_of_errors_and_logs(harness: Harness) -> None:
    """The stored config shows references only; a refused credential's error and logs carry no secret."""
    with harness.open() as source:
        settings = harness.settings(source)
        secrets = harness.secrets(source)
        config = parse_config({"name": "c", "type": harness.type_name, "settings": settings})
        public = json.dumps(config.config.public())
        wrong = dict(secrets)
        for name in harness.secret_names:
            wrong[name] = f"{name.lower()}-wrong-s3cret"
        bad = connector_for(harness, source)
        bad.secrets = type(bad.secrets)(wrong)
        with structlog.testing.capture_logs() as logs, pytest.raises(HubError) as failed:
            pull_all(bad)
    for value in [*secrets.values(), *wrong.values()]:
        assert value not in public
        assert value not in str(failed.value)
        assert value not in json.dumps(logs, default=str)


def test_a_harness_that_cannot_show_a_behaviour_says_why() -> None:
    """Every type runs every check it can; one left out of deletes or webhooks names why."""
    for harness in HARNESSES:
        assert harness.delete is not None or harness.why_no_deletes, harness.type_name
        assert harness.webhook is not None or harness.why_no_webhooks, harness.type_name
        assert harness.credential.startswith("settings."), harness.type_name
