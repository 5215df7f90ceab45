"""``hub replay``: rebuild every projection from the beginning of the log.

The rebuild runs on the fast path (plain consumer, one decode and one pure fold per
event; no stream framework), so it is also how a changed fold is rolled out: with the
workers stopped, ``--apply`` writes the rebuilt states to the projection table's
changelog, which is what workers recover their tables and read models from. The rebuilt
states carry their log positions, so when workers resume, events they already reflect
are skipped.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import FatalError
from core.log_reader import event_batches
from hub.processes import tune_gc_for_folding
from projections.replay import Replay
from projections.rollups import Entities

__all__ = ["RebuildReport", "rebuild", "rebuild_async", "apply_rebuild", "changelog_topic"]


@dataclass
class RebuildReport:
    events: int
    entities: dict[str, int]
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def changelog_topic(app_id: str) -> str:
    """Faust names a table's changelog ``<app id>-<table>-changelog``."""
    return f"{app_id}-projections-changelog"


async def rebuild_async(
    bootstrap_servers: str,
    *,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Entities, RebuildReport]:
    """Fold the whole log; ``progress`` is told how many events each batch held."""
    started = time.perf_counter()
    rebuilt = Replay(until)
    async for batch in event_batches(bootstrap_servers):
        rebuilt.feed(batch)
        if progress:
            progress(len(batch))
    report = RebuildReport(
        rebuilt.events,
        {k: len(v) for k, v in sorted(rebuilt.entities.items())},
        time.perf_counter() - started,
    )
    return rebuilt.entities, report


def rebuild(
    bootstrap_servers: str,
    *,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Entities, RebuildReport]:
    tune_gc_for_folding()  # a process of its own (hub replay): fold like a worker
    return asyncio.run(rebuild_async(bootstrap_servers, until=until, progress=progress))


def _group_members(bootstrap_servers: str, group: str) -> int:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="hub-replay")
    try:
        described = admin.describe_groups([group])
    except (KafkaError, ValueError) as exc:
        raise FatalError(
            f"cannot tell whether workers of {group!r} are running (DescribeGroups failed: "
            f"{exc!r}); stop them and pass --force"
        ) from None
    finally:
        admin.close()
    info: Any = described.get(group, {}) if isinstance(described, dict) else {}
    return len(info.get("members", []) or [])


def apply_rebuild(
    bootstrap_servers: str, app_id: str, entities: Entities, *, force: bool = False
) -> int:
    """Write rebuilt states to the table changelog; refuses while workers are running."""
    from core.publish import SyncPublisher

    if not force and _group_members(bootstrap_servers, app_id):
        raise FatalError(f"workers of {app_id!r} are running; stop them before --apply")
    written = 0
    with SyncPublisher(bootstrap_servers, origin="cli", client_id="hub-replay") as producer:
        for kind, states in entities.items():
            for key, state in states.items():
                # One record a call, as before the publish path was unified: sent as one
                # batch, a state went missing on the embedded broker (under investigation).
                producer.publish(
                    [(changelog_topic(app_id), f"{kind}/{key}", json.dumps(state).encode())]
                )
                written += 1
    return written
