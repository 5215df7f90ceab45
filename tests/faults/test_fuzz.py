"""Fuzzing: whatever arrives at a webhook endpoint or in ``hub publish`` input, the hub
never crashes and never answers 500; bad input is refused or dead-lettered with a reason.

Webhook bodies are fuzzed twice over: unsigned (refused at the door) and correctly signed
(so the garbage reaches each source's parser, which must dead-letter it, not fall over).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.publish import parse_event_lines
from tests.faults.harness import Hub
from tests.helpers import HubProcess, event_dict, own_broker

pytestmark = pytest.mark.broker

SECRET = "fuzz-hook-secret"
ALLOWED = {200, 400, 401, 404, 413, 503}


def _hex(algo: Any, body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, algo).hexdigest()


def _signers(base: str) -> dict[str, Callable[[bytes], dict[str, str]]]:
    def zendesk(body: bytes) -> dict[str, str]:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
        return {
            "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        }

    def hubspot(body: bytes) -> dict[str, str]:
        stamp = str(int(time.time() * 1000))
        message = b"POST" + f"{base}/webhooks/fz-hs".encode() + body + stamp.encode()
        digest = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
        return {
            "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": stamp,
        }

    return {
        "fz-canon": lambda b: {"X-Hub-Signature": "sha256=" + _hex(hashlib.sha256, b)},
        "fz-jira": lambda b: {"X-Hub-Signature": "sha256=" + _hex(hashlib.sha256, b)},
        "fz-ic": lambda b: {"X-Hub-Signature": "sha1=" + _hex(hashlib.sha1, b)},
        "fz-zd": zendesk,
        "fz-hs": hubspot,
    }


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A worker with one webhook-taking connector of each type; sources unreachable, so
    any read-back fails too (and must answer 503, not 500)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with own_broker() as broker:
        with Hub(broker.bootstrap_servers, tmp, env={"HOOK": SECRET, "TOKEN": "t"}) as hub:
            process = hub.start_worker()
            process.wait_healthy()
            dead = "http://127.0.0.1:9"
            configs = {
                "fz-canon": ("canonical_http", {"base_url": dead, "token": "${env:TOKEN}"}),
                "fz-jira": (
                    "jira",
                    {"base_url": dead, "email": "a@b.c", "api_token": "${env:TOKEN}"},
                ),
                "fz-zd": (
                    "zendesk",
                    {"base_url": dead, "email": "a@b.c", "api_token": "${env:TOKEN}"},
                ),
                "fz-ic": ("intercom", {"base_url": dead, "access_token": "${env:TOKEN}"}),
                "fz-hs": ("hubspot", {"base_url": dead, "access_token": "${env:TOKEN}"}),
            }
            auth = {"Authorization": f"Bearer {process.token}"}
            for name, (kind, body) in configs.items():
                settings_ = {**body, "webhook_secret": "${env:HOOK}", "request_timeout": 1}
                response = requests.put(
                    f"{process.url}/api/v1/connectors/{name}",
                    json={"type": kind, "settings": settings_},
                    headers=auth,
                    timeout=10,
                )
                assert response.status_code == 201, response.text
            deadline = time.monotonic() + 15
            while requests.post(f"{process.url}/webhooks/fz-hs", timeout=5).status_code == 404:
                assert time.monotonic() < deadline
                time.sleep(0.3)
            yield process


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(  # shapes close to what the sources send, with garbage inside
        lambda issue, data, events: json.dumps(
            {"webhookEvent": "jira:issue_updated", "issue": issue, "data": data, "events": events}
        ).encode(),
        json_values,
        json_values,
        json_values,
    ),
)
headers = st.dictionaries(
    st.sampled_from(
        ["X-Hub-Signature", "X-Zendesk-Webhook-Signature", "X-HubSpot-Signature-v3", "X-Foo"]
    ),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
    max_size=3,
)
NAMES = ["fz-canon", "fz-jira", "fz-zd", "fz-ic", "fz-hs", "nope"]


def _check(response: requests.Response) -> None:
    assert response.status_code in ALLOWED, (response.status_code, response.text)
    if response.status_code >= 400:
        assert response.json()["error"]["message"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(NAMES), body=bodies, extra=headers)
def test_unsigned_or_forged_deliveries_are_refused(
    worker: HubProcess, name: str, body: bytes, extra: dict[str, str]
) -> None:
    """Fuzzed unsigned or forged webhook deliveries get 401/404 and a JSON error, never a 500."""
    response = requests.post(f"{worker.url}/webhooks/{name}", data=body, headers=extra, timeout=10)
    _check(response)
    assert response.status_code in (401, 404)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(NAMES[:-1]), body=bodies)
def test_correctly_signed_garbage_is_dead_lettered_not_a_crash(
    worker: HubProcess, name: str, body: bytes
) -> None:
    """Correctly signed garbage is accepted or dead-lettered with a JSON answer, never a crash."""
    signed = _signers(worker.url)[name](body)
    response = requests.post(f"{worker.url}/webhooks/{name}", data=body, headers=signed, timeout=15)
    _check(response)
    if response.status_code == 200:
        answer = response.json()
        assert answer.keys() == {"accepted", "dead_lettered"}


def test_the_worker_survived_the_fuzzing(worker: HubProcess) -> None:
    """After the fuzzing the worker still runs and logged no unexpected traceback."""
    assert worker.process.poll() is None
    assert "Traceback" not in worker.log() or "webhook could not be processed" in worker.log()


lines = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.builds(
        lambda path, value: json.dumps(_mutate(path, value)),
        st.sampled_from(
            ["type", "event_id", "entity", "occurred_at", "payload", "source", "extra"]
        ),
        json_values,
    ),
)


def _mutate(field: str, value: Any) -> dict[str, Any]:
    event = event_dict("work_item.created", "FZ-1", "c", payload={"title": "t"})
    event[field] = value
    return event


@settings(max_examples=300, deadline=None)
@given(st.lists(lines, max_size=6))
def test_publish_input_is_validated_line_by_line_without_crashing(batch: list[str]) -> None:
    """hub publish validation reports each bad line with its number and never raises on arbitrary
    input.
    """
    text = [line.replace("\n", " ") for line in batch]
    events, errors = parse_event_lines(text)
    assert len(events) + len(errors) == len([t for t in text if t.strip()])
    for error in errors:
        assert str(error).startswith(f"line {error.line}: ") and error.message


def test_a_valid_event_passes_publish_validation(tmp_path: Path) -> None:
    """Valid canonical event lines pass publish validation; blank lines are skipped."""
    good = json.dumps(event_dict("work_item.created", "FZ-1", "c", payload={"title": "t"}))
    events, errors = parse_event_lines([good, "", good])
    assert len(events) == 2 and errors == []
