"""/metrics speaks Prometheus correctly: counters are typed counter and named ``_total``."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from core.metrics import Metrics
from core.publish import AsyncPublisher
from demo.runner import counter_rate


def _families(metrics: Metrics) -> dict[str, str]:
    text = metrics.render().decode()
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def test_connector_totals_are_counters_and_state_is_a_gauge() -> None:
    """The runtime's reported totals are exported as counters, sync time and state as gauges."""
    status = {
        "jira": {
            "state": "RUNNING",
            "events_produced_total": 12,
            "errors_total": 1,
            "last_sync_seconds": 0.5,
        }
    }
    families = _families(Metrics(connector_status=lambda: status))
    assert families["hub_connector_events_produced"] == "counter"
    assert families["hub_connector_errors"] == "counter"
    assert families["hub_connector_last_sync_seconds"] == "gauge"
    assert families["hub_connector_running"] == "gauge"
    text = Metrics(connector_status=lambda: status).render().decode()
    assert 'hub_connector_events_produced_total{connector="jira"} 12.0' in text


def test_every_counter_is_named_total_and_no_gauge_is() -> None:
    """Parsed by Prometheus's own parser, counter names end in _total and gauge names do not."""
    text = Metrics(connector_status=lambda: {"c": {"state": "FAILED"}}).render().decode()
    for family in text_string_to_metric_families(text):
        samples = {s.name for s in family.samples}
        if family.type == "counter" and samples:  # a labelled counter with no children yet
            assert f"{family.name}_total" in samples, family.name
        if family.type == "gauge":
            assert not family.name.endswith("_total"), family.name


def test_the_publish_path_counts_each_acknowledged_record_by_topic_and_origin() -> None:
    """One counter: every record a publisher had acknowledged, labelled topic and origin."""
    metrics = Metrics()
    sent: list[tuple[str, str | None, bytes | None]] = []

    async def send(topic: str, key: str | None, value: bytes | None) -> asyncio.Future[None]:
        sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def scenario() -> None:
        publisher = AsyncPublisher(send, origin="api", metrics=metrics)
        await publisher.publish([("hub.roadmap", "k", b"1"), ("hub.roadmap", "k", b"2")])
        await publisher.with_origin("webhook").publish_dead_letter(b"{}", "jira")

    asyncio.run(scenario())
    counted = metrics.records_produced
    assert counted.labels("hub.roadmap", "api")._value.get() == 2
    assert counted.labels("hub.deadletter", "webhook")._value.get() == 1
    assert len(sent) == 3


def test_the_demo_console_rate_counts_a_reset_counter_from_zero() -> None:
    """20,000 folded, then a restarted worker reports 500 two seconds later: 250/s, not a
    negative rate; an ordinary rise is the difference over the time."""
    assert counter_rate((10.0, 20_000.0), (12.0, 500.0)) == 250.0
    assert counter_rate((10.0, 100.0), (14.0, 300.0)) == 50.0
