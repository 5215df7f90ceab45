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
        self.sync_seconds = Histogram(
            "hub_connector_sync_seconds",
            "Duration of one connector sync.",
            ["connector"],
            registry=r,
        )
        self.sync_errors = Counter(
            "hub_connector_errors_total", "Failed connector syncs.", ["connector"], registry=r
        )
        self.api_latency = Histogram(
            "hub_api_request_seconds",
            "API request latency.",
            ["method", "route", "status"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
        )
        self.alerts = Gauge("hub_alerts", "Alerts by state.", ["state"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
