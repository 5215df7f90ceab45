"""Alertmanager's webhook payload, version 4, so existing receivers and bridges work."""

from __future__ import annotations

from typing import Any

from alerts.dispatch import Notification
from alerts.receivers.common import common_annotations, common_labels, ends_at, starts_at

__all__ = ["webhook_payload", "V4_FIELDS", "V4_ALERT_FIELDS"]

V4_FIELDS = (
    "version",
    "groupKey",
    "truncatedAlerts",
    "status",
    "receiver",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
    "alerts",
)
V4_ALERT_FIELDS = (
    "status",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "generatorURL",
    "fingerprint",
)


def webhook_payload(
    notification: Notification, external_url: str, max_alerts: int = 0
) -> dict[str, Any]:
    alerts = notification.alerts
    shown = alerts[:max_alerts] if max_alerts else alerts
    base = external_url.rstrip("/")
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": len(alerts) - len(shown),
        "status": notification.status,
        "receiver": notification.receiver,
        "groupLabels": notification.group_labels,
        "commonLabels": common_labels(notification),
        "commonAnnotations": common_annotations(notification),
        "externalURL": base,
        "alerts": [
            {
                "status": alert["status"],
                "labels": alert["labels"],
                "annotations": alert["annotations"],
                "startsAt": starts_at(alert),
                "endsAt": ends_at(alert),
                "generatorURL": f"{base}/api/v1/alerts/{alert['fingerprint']}",
                "fingerprint": alert["fingerprint"],
            }
            for alert in shown
        ],
    }
