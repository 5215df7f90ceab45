"""Prometheus series the hub exports at ``GET /metrics``.

One registry per app instance, so tests can build several apps in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["ConnectorStatus", "Metrics"]


class ConnectorStatus(Collector):
    """The connector runtime is another process: its per-connector totals come from the
    status records it writes, exported here with their true types at every scrape."""

    def __init__(self, status: Callable[[], Mapping[str, Mapping[str, Any]]]) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        produced = CounterMetricFamily(
            "hub_connector_events_produced", "Events a connector produced.", labels=["connector"]
        )
        errors = CounterMetricFamily(
            "hub_connector_errors",
            "Failed syncs since the connector was created.",
            labels=["connector"],
        )
        seconds = GaugeMetricFamily(
            "hub_connector_last_sync_seconds", "Duration of the last sync.", labels=["connector"]
        )
        running = GaugeMetricFamily(
            "hub_connector_running", "1 when the connector is RUNNING.", labels=["connector"]
        )
        warnings = GaugeMetricFamily(
            "hub_connector_warnings",
            "Warnings the connector's last sync reported (field drift, uncovered windows).",
            labels=["connector"],
        )
        for name, record in sorted(self.status().items()):
            warnings.add_metric([name], float(len(record.get("warnings") or ())))
            produced.add_metric([name], float(record.get("events_produced_total") or 0))
            errors.add_metric([name], float(record.get("errors_total") or 0))
            seconds.add_metric([name], float(record.get("last_sync_seconds") or 0))
            running.add_metric([name], 1.0 if record.get("state") == "RUNNING" else 0.0)
        yield from (produced, errors, seconds, running, warnings)


class Metrics:
    """``connector_status``, in a worker: where the connectors' status records are read."""

    def __init__(
        self, connector_status: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        if connector_status is not None:
            r.register(ConnectorStatus(connector_status))
        self.records_produced = Counter(
            "hub_records_produced_total",
            "Records this process produced and the broker acknowledged: events, dead letters, "
            "state.",
            ["topic", "origin"],
            registry=r,
        )
        self.events_folded = Counter(
            "hub_events_folded_total", "Events folded into projections.", ["topic"], registry=r
        )
        self.events_duplicate = Counter(
            "hub_events_duplicate_total",
            "Events ignored as already applied.",
            ["topic"],
            registry=r,
        )
        self.fold_lag = Gauge(
            "hub_fold_lag_events", "Events on the topic not yet folded.", ["topic"], registry=r
        )
        self.api_latency = Histogram(
            "hub_api_request_seconds",
            "API request latency.",
            ["method", "route", "status"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
        )
        self.alerts = Gauge("hub_alerts", "Alerts by state.", ["state"], registry=r)
        self.notifications = Counter(
            "hub_notifications_total",
            "Delivery attempts by outcome.",
            ["integration", "status"],
            registry=r,
        )
        self.rule_evaluation_seconds = Gauge(
            "hub_rule_evaluation_seconds",
            "Duration of the last drift rule evaluation.",
            registry=r,
        )
        self.rule_evaluation_interval_seconds = Gauge(
            "hub_rule_evaluation_interval_seconds",
            "Time between the starts of the last two drift rule evaluations.",
            registry=r,
        )
        self.rule_evaluations = Counter(
            "hub_rule_evaluations",
            "Drift rule evaluations this worker ran (as the group's leader).",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
