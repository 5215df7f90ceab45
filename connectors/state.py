"""Connector state as Kafka Connect keeps it: three topics, every instance reading all three.

- ``hub.connect-configs``: per connector, its config, target state (RUNNING/PAUSED) and
  the restart and cursor-reset counters; a tombstone deletes the connector.
- ``hub.connect-offsets``: per connector, the cursor of the last page whose events the
  broker acknowledged, tagged with the reset counter it belongs to.
- ``hub.connect-status``: per connector, what the runtime last reported.

Only the API and CLI write configs; only the runtime writes offsets and status.
"""

from __future__ import annotations

import threading
from typing import Any

from core.events import iso, utcnow
from core.topic_store import TopicStore
from core.topics import CONNECT_CONFIGS, CONNECT_OFFSETS, CONNECT_STATUS

__all__ = [
    "ConnectState",
    "config_record",
    "STATE_TOPICS",
    "RUNNING",
    "PAUSED",
    "FAILED",
    "UNASSIGNED",
]

STATE_TOPICS = (CONNECT_CONFIGS.name, CONNECT_OFFSETS.name, CONNECT_STATUS.name)
RUNNING, PAUSED, FAILED, UNASSIGNED = "RUNNING", "PAUSED", "FAILED", "UNASSIGNED"


def config_record(
    config: dict[str, Any], previous: dict[str, Any] | None = None, **changes: Any
) -> dict[str, Any]:
    """A new config record, carrying over target state and counters unless changed."""
    base = previous or {"target_state": RUNNING, "restart": 0, "reset": 0}
    return {**base, "config": config, **changes, "updated_at": iso(utcnow())}


class ConnectState(TopicStore):
    """The three topics folded into dicts; waiters wake on every change."""

    def __init__(self) -> None:
        super().__init__(STATE_TOPICS)
        self.changed = threading.Condition()
        self.configs: dict[str, dict[str, Any]] = {}
        self.offsets: dict[str, dict[str, Any]] = {}
        self.status: dict[str, dict[str, Any]] = {}

    def apply(self, topic: str, key: str, value: Any) -> None:
        with self.changed:  # a waiter sees the change and its version together
            super().apply(topic, key, value)
            self.changed.notify_all()

    def _apply(self, topic: str, key: str, value: Any) -> None:
        target = {
            CONNECT_CONFIGS.name: self.configs,
            CONNECT_OFFSETS.name: self.offsets,
            CONNECT_STATUS.name: self.status,
        }.get(topic)
        if target is None:
            return
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value

    def cursor(self, name: str) -> dict[str, Any] | None:
        """The committed cursor, unless a reset was asked for since it was committed."""
        config, offset = self.configs.get(name), self.offsets.get(name)
        if not config or not offset or offset.get("reset", 0) != config.get("reset", 0):
            return None
        cursor = offset.get("cursor")
        return dict(cursor) if cursor else None

    def wait_for_change(self, since: int, timeout: float) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.version != since, timeout=timeout)
            return self.version
