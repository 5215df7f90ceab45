"""What every receiver's message says, whatever its format: titles, common labels, links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts.dispatch import Notification

__all__ = ["common_labels", "common_annotations", "title", "starts_at", "ends_at", "ZERO_TIME"]

# Alertmanager's "not ended" endsAt: Go's zero time.
ZERO_TIME = "0001-01-01T00:00:00Z"


def _common(dicts: list[Mapping[str, str]]) -> dict[str, str]:
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}


def common_labels(notification: Notification) -> dict[str, str]:
    return _common([a["labels"] for a in notification.alerts])


def common_annotations(notification: Notification) -> dict[str, str]:
    return _common([a["annotations"] for a in notification.alerts])


def title(notification: Notification) -> str:
    """``[FIRING:2] ForecastSlip payments``: Alertmanager's default title, in words."""
    count = (
        len(notification.firing) if notification.status == "firing" else len(notification.resolved)
    )
    labels = " ".join(notification.group_labels.values())
    return f"[{notification.status.upper()}:{count}] {labels}".strip()


def starts_at(alert: Mapping[str, Any]) -> str:
    return str(alert.get("starts_at") or alert.get("active_at") or ZERO_TIME)


def ends_at(alert: Mapping[str, Any]) -> str:
    return (
        str(alert["ends_at"])
        if alert.get("status") == "resolved" and alert.get("ends_at")
        else ZERO_TIME
    )
