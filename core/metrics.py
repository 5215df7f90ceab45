"""Prometheus series the hub exports at ``GET /metrics``.

One registry per app instance, so tests can build several apps in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_produced = Counter(
            "hub_events_produced_total", "Events produced to a topic.", ["topic"], registry=r
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
        self.dead_lettered = Counter(
            "hub_dead_letters_total",
            "Records sent to the dead-letter topic.",
            ["origin"],
            registry=r,
        )
        self.fold_lag = Gauge(
            "hub_fold_lag_events", "Events on the topic not yet folded.", ["topic"], registry=r
        )
        # The connector runtime is another process: these mirror its status records.
        self.sync_seconds = Gauge(
            "hub_connector_last_sync_seconds",
            "Duration of the last connector sync.",
            ["connector"],
            registry=r,
        )
        self.sync_errors = Gauge(
            "hub_connector_errors_total",
            "Failed syncs since the connector was created.",
            ["connector"],
            registry=r,
        )
        self.connector_events = Gauge(
            "hub_connector_events_produced_total",
            "Events a connector produced.",
            ["connector"],
            registry=r,
        )
        self.connector_up = Gauge(
            "hub_connector_running", "1 when the connector is RUNNING.", ["connector"], registry=r
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

    def mirror_connectors(self, status: dict[str, dict[str, object]]) -> None:
        for name, record in status.items():
            self.sync_seconds.labels(name).set(float(record.get("last_sync_seconds") or 0))  # type: ignore[arg-type]
            self.sync_errors.labels(name).set(float(record.get("errors_total") or 0))  # type: ignore[arg-type]
            self.connector_events.labels(name).set(float(record.get("events_produced_total") or 0))  # type: ignore[arg-type]
            self.connector_up.labels(name).set(1.0 if record.get("state") == "RUNNING" else 0.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
