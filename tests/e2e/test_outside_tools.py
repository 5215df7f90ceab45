"""Tools nobody on the project wrote, against the running demo hub: schemathesis drives
every operation of our own OpenAPI document; Prometheus's parser reads /metrics; the
notifications a receiver got are checked against Alertmanager's v4 webhook structure.

One ``hub up --demo`` serves the whole module; it is a throwaway organisation, so write
operations run against it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Literal

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, ConfigDict
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from tests.helpers import DemoHub, poll, running_demo

pytestmark = pytest.mark.broker

EXAMPLES = 6  # per operation and mode: bounded so the tier fits the suite's time
# Where a schema-valid request can still be refused on its meaning (a date range the
# wrong way round, a document whose teams are not defined, settings of another type):
# those operations may answer their documented 400/422 to positive data.
SEMANTIC = {
    "PUT /api/v1/roadmap",
    "POST /api/v1/silences",
    "PUT /api/v1/connectors/{name}",
    "POST /api/v1/connector-types/{type_name}/validate",
    "GET /api/v1/teams/{team}/resources",
    "GET /api/v1/flow/cycle-time",
    "GET /api/v1/flow/throughput",
    "GET /api/v1/flow/request-lead-time",
    "GET /api/v1/teams/{team}/investment",
    "GET /api/v1/investment",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHub]:
    """``hub up --demo`` on a fresh data directory, until the planted drifts fire."""
    root = tmp_path_factory.mktemp("outside")
    with running_demo(root, firing=1, health_timeout=180, firing_timeout=180) as hub:
        yield hub


def _exerciser(demo: DemoHub, operation: Any, mode: GenerationMode) -> Any:
    """One operation's hypothesis test: generated cases sent and checked by schemathesis."""
    excluded = [positive_data_acceptance] if operation.label in SEMANTIC else []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases every run: a failure here is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    # The token is part of every generated case, so invalid data never means a missing
    # token put back by the caller; auth itself is checked by ignored_auth.
    @given(case=operation.as_strategy(generation_mode=mode, headers=demo.auth))
    def exercise(case: Any) -> None:
        case.call_and_validate(
            base_url=demo.base,
            excluded_checks=excluded,
            additional_checks=[ignored_auth],
        )

    return exercise


def _problems(demo: DemoHub, mode: GenerationMode, minimum: int) -> dict[str, str]:
    """Every operation fuzzed in ``mode``; the failures schemathesis found, by operation."""
    schema = schemathesis.openapi.from_url(demo.base + "/api/v1/openapi.json", headers=demo.auth)
    found: dict[str, str] = {}
    exercised = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        exercised += 1
        try:
            _exerciser(demo, operation, mode)()
        except Unsatisfiable:
            exercised -= 1  # nothing to make invalid: no parameters or body
            continue
        except BaseException as exc:  # schemathesis reports a group of failures
            lines = [line for line in str(exc).splitlines() if line.strip()]
            found[operation.label] = "\n".join(lines[:25])
    # Every operation with input to make invalid was exercised; none was skipped silently.
    assert exercised >= minimum, exercised
    return found


def test_every_operation_survives_schemathesis_with_valid_data(demo: DemoHub) -> None:
    """Schema-valid requests to every operation: no 5xx, documented statuses, content types
    and response schemas, auth enforced."""
    problems = _problems(demo, GenerationMode.POSITIVE, minimum=35)
    assert problems == {}, "\n\n".join(f"== {op}\n{text}" for op, text in problems.items())


def test_every_operation_refuses_invalid_data_with_a_documented_4xx(demo: DemoHub) -> None:
    """Schema-invalid requests to every operation are refused with a documented 4xx and the
    JSON error shape, never a 5xx."""
    problems = _problems(demo, GenerationMode.NEGATIVE, minimum=16)
    assert problems == {}, "\n\n".join(f"== {op}\n{text}" for op, text in problems.items())


def test_metrics_parse_and_every_name_says_its_type(demo: DemoHub) -> None:
    """Prometheus's own parser reads /metrics; counters are named _total, gauges are not."""
    text = requests.get(demo.base + "/metrics", timeout=10).text
    families = list(text_string_to_metric_families(text))
    names = {f.name: f.type for f in families}
    assert names["hub_connector_events_produced"] == "counter"
    assert names["hub_records_produced"] == "counter"
    for family in families:
        samples = {s.name for s in family.samples}
        if family.type == "counter" and samples:
            assert f"{family.name}_total" in samples, family.name
        if family.type == "gauge":
            assert not family.name.endswith("_total"), family.name


class _AlertV4(BaseModel):
    """Alertmanager's template.Alert, field for field."""

    model_config = ConfigDict(extra="forbid", strict=True)
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: str
    endsAt: str
    generatorURL: str
    fingerprint: str


class _WebhookV4(BaseModel):
    """Alertmanager's webhook.Message (template.Data plus version, groupKey, truncatedAlerts)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    version: Literal["4"]
    groupKey: str
    truncatedAlerts: int
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str]
    commonLabels: dict[str, str]
    commonAnnotations: dict[str, str]
    externalURL: str
    alerts: list[_AlertV4]


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
GROUP_KEY = re.compile(r'^\{\}(/\{[^}]*\}(/\d+)?)*:\{([a-z_]+="(?:[^"\\]|\\.)*"(, )?)*\}$')


def test_webhook_notifications_match_alertmanagers_v4_structure(demo: DemoHub) -> None:
    """What the demo's webhook receiver got parses as Alertmanager's v4 message, strictly:
    no missing or extra field, RFC 3339 times, Alertmanager's group key format."""
    ready = json.loads((demo.data / "demo" / "ready.json").read_text())
    messages: list[dict[str, Any]] = poll(
        lambda: requests.get(ready["webhook_capture"] + "/messages", timeout=5).json()["messages"],
        60,
        "captured webhook notifications",
    )
    for message in messages:
        payload = _WebhookV4.model_validate(message["body"])
        assert GROUP_KEY.match(payload.groupKey), payload.groupKey
        for alert in payload.alerts:
            assert RFC3339.match(alert.startsAt) and RFC3339.match(alert.endsAt)
            assert alert.generatorURL.startswith(payload.externalURL)
