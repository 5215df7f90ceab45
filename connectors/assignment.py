"""Which connectors this runtime runs, when several runtimes share them.

Like Kafka Connect's distributed mode, membership goes through Kafka itself: every
``hub connect`` joins one consumer group on ``hub.connect-assignments``, whose partitions
are buckets of connectors (a connector's bucket is a stable hash of its name). The group
coordinator shares the buckets among the live runtimes, so each connector runs in exactly
one; when a runtime dies its session times out, the group rebalances and the buckets it
held move to the others, which resume those connectors from their committed cursors (the
cursors are in ``hub.connect-offsets``, read by every runtime). A runtime gives up its
buckets only after its tasks there have stopped, so two runtimes never sync one connector
at once during an orderly handover; after a crash the worst case is a page produced twice,
which the folds' idempotence absorbs.

The topic carries no records: its partitions exist to be assigned.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from core.topics import CONNECT_ASSIGNMENTS

__all__ = ["Assignment", "Solo", "GROUP", "bucket", "SESSION_TIMEOUT_MS"]

log = structlog.get_logger(__name__)
GROUP = "hub-connect-runtimes"
# A dead runtime's connectors move within this and a rebalance (about 11 s in all); a
# joining runtime waits about half of it for its share, as the group settles.
SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_MS = 1_000
BUCKETS = CONNECT_ASSIGNMENTS.partitions or 1


def bucket(name: str) -> int:
    """The connector's bucket: the same in every runtime and across restarts."""
    return zlib.crc32(name.encode()) % BUCKETS


class Assignment:
    """This runtime's share of the buckets, kept current by ``poll``.

    ``release`` is called with the buckets being taken away, before the group moves them
    on; it must return only once nothing runs in them any more.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        release: Callable[[set[int]], None],
    ) -> None:
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        self.owned: set[int] = set()
        self.generation = 0
        self._release = release
        assignment = self

        class _Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Iterable[Any]) -> None:
                lost = {tp.partition for tp in revoked} & assignment.owned
                if lost:
                    assignment._release(lost)
                assignment.owned -= lost
                log.info("connector buckets released", buckets=sorted(lost))

            def on_partitions_assigned(self, assigned: Iterable[Any]) -> None:
                assignment.owned = {tp.partition for tp in assigned}
                assignment.generation += 1
                log.info("connector buckets assigned", buckets=sorted(assignment.owned))

        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=GROUP,
            client_id=client_id,
            enable_auto_commit=False,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_MS,
            max_poll_interval_ms=30_000,  # also bounds a rebalance waiting for a member
        )
        self.consumer.subscribe([CONNECT_ASSIGNMENTS.name], listener=_Listener())

    def poll(self, seconds: float) -> None:
        """Take part in the group for up to ``seconds``: joins, heartbeats, rebalances."""
        self.consumer.poll(timeout_ms=int(seconds * 1000), max_records=1)

    def owns(self, name: str) -> bool:
        return bucket(name) in self.owned

    def close(self) -> None:
        """Leave the group at once, so the others take over without waiting for a timeout."""
        self.consumer.close(autocommit=False)


class Solo:
    """Every bucket, with no group: for a runtime that is alone on its broker by design."""

    def __init__(self) -> None:
        self.owned = set(range(BUCKETS))

    def poll(self, seconds: float) -> None:
        """Nothing to take part in."""

    def owns(self, name: str) -> bool:
        return True

    def close(self) -> None:
        """Nothing to leave."""
