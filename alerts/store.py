"""The alerting state every worker holds: alerts, groups, silences, deliveries, digests.

Fed from the ``hub.alerting`` topic (one partition, compacted): the leader writes alert
states and the notification log there, any worker writes silences. Every record carries a
per-key revision; a record older than the one held is ignored, so a write applied locally
(read-your-writes) is never undone by the follower catching up on earlier ones.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from core.topic_store import TopicStore
from core.topics import ALERTING

__all__ = ["AlertStore", "KINDS", "DELIVERY_LOG_LIMIT"]

KINDS = ("alert", "group", "silence", "delivery", "digest")
DELIVERY_LOG_LIMIT = 1000


class AlertStore(TopicStore):
    """``hub.alerting`` folded: the latest revision of every record, by kind."""

    def __init__(self) -> None:
        super().__init__([ALERTING.name])
        self.alerts: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.silences: dict[str, dict[str, Any]] = {}
        self.deliveries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.digests: dict[str, dict[str, Any]] = {}
        self._revisions: dict[str, int] = {}
        # What changed, for those who act on change: ``alert_writes`` moves with every new
        # alert record (an evaluation judged in a fork checks that none came while it
        # ran); ``routing_version`` with what the dispatcher's plan reads: not an alert's
        # new value or annotations, which the rules rewrite every evaluation and a group
        # reads only when it flushes (at 50x the demo re-planning 2,800 alerts for those
        # held every query for 25 ms). Neither moves for an echo of a record already held.
        self.alert_writes = 0
        self.routing_version = 0

    def _bucket(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            "alert": self.alerts,
            "group": self.groups,
            "silence": self.silences,
            "delivery": self.deliveries,
            "digest": self.digests,
        }[kind]

    def next_revision(self, record_key: str) -> int:
        return self._revisions.get(record_key, 0) + 1

    def _apply(self, _topic: str, record_key: str, value: dict[str, Any] | None) -> None:
        """Apply one record ``kind/key`` -> ``{"rev": n, "value": {...} | None}``."""
        kind, _, key = record_key.partition("/")
        if kind not in KINDS or not isinstance(value, dict):
            return
        revision = int(value.get("rev", 0))
        held = self._revisions.get(record_key, 0)
        if revision < held:
            return
        self._revisions[record_key] = revision
        bucket = self._bucket(kind)
        before, after = bucket.get(key), value.get("value")
        # The follower reading back a record this store applied when writing it (same
        # revision, same value) changes nothing: a flush writing a thousand groups must not
        # re-plan on every tick while their echoes arrive.
        if revision > held or before != after:
            if kind == "alert":
                self.alert_writes += 1
                if not _same_routing(before, after):
                    self.routing_version += 1
            else:
                self.routing_version += 1
        if after is None:
            bucket.pop(key, None)
        else:
            bucket[key] = after
            if kind == "delivery":
                self.deliveries.move_to_end(key)
                while len(self.deliveries) > DELIVERY_LOG_LIMIT:
                    self.deliveries.popitem(last=False)


def _same_routing(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    """Routes, silences, inhibitions and the firing set read an alert's state and labels."""
    if before is None or after is None:
        return before is after
    return before.get("state") == after.get("state") and before.get("labels") == after.get("labels")
