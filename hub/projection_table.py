"""The worker's moving parts: the projection table, the fold loop that feeds it, and the
read model that follows its changelog.

The table is keyed by the source topics' message keys, byte for byte, with the default
partitioner, so a key's changelog partition is the partition its events come from; Faust
assigns those changelog partitions across workers and recovers them, and the fold loop
folds the matching source partitions (``hub.fold_loop``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic_core
import structlog
from faust.serializers import codecs

from core.metrics import Metrics
from core.publish import AsyncPublisher
from core.settings import Settings
from hub.fold_loop import FoldLoop, is_checkpoint
from hub.read_model import ReadModel
from projections.entities import fold_entity

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["ProjectionTable", "register"]

log = structlog.get_logger(__name__)


class StateCodec(codecs.Codec):
    """Projection states as JSON through pydantic-core's Rust encoder: a touched key's whole
    state is serialised once per batch, and the stdlib encoder was an eighth of the fold
    loop's time (measured); the bytes are plain JSON, read back by anything."""

    def _dumps(self, obj: Any) -> bytes:
        return pydantic_core.to_json(obj)

    def _loads(self, s: bytes) -> Any:
        return pydantic_core.from_json(s)


codecs.register("hub-state", StateCodec())


@dataclass(frozen=True)
class ProjectionTable:
    """The worker's projections: the table, the loop that folds into it, the read model."""

    table: Any
    fold_loop: FoldLoop
    read_model: ReadModel


def register(
    app: HubApp,
    settings: Settings,
    bootstrap_servers: str,
    metrics: Metrics,
    publisher: AsyncPublisher,
) -> ProjectionTable:
    """Declare the table and its tasks on ``app``; return them for the services to hold.
    ``publisher`` carries the fold loop's dead letters."""
    table = app.Table(
        "projections",
        default=None,
        partitions=settings.topic_partitions,
        key_type=bytes,  # raw serializer: the source topics' keys, byte for byte
        use_partitioner=True,
        help="Folded state of every entity, keyed kind/key.",
    )
    # Faust derives a table's codec from its value type; states are plain dicts, so name it.
    # Either codec reads what the other writes: both are plain JSON.
    # (Faust's TableT and TopicT protocols omit the attribute its classes have.)
    table.value_serializer = "hub-state"  # type: ignore[attr-defined]
    table.changelog_topic.value_serializer = "hub-state"  # type: ignore[attr-defined]

    loop = FoldLoop(app, table, fold_entity, bootstrap_servers, metrics, publisher)

    async def on_revoked(*_: Any, **__: Any) -> None:
        await loop.on_revoked()

    async def on_rebalance_complete(*_: Any, **__: Any) -> None:
        loop.on_recovered()

    app.on_partitions_revoked.connect(on_revoked)
    app.on_rebalance_complete.connect(on_rebalance_complete)

    @app.task
    async def fold_entities() -> None:
        await loop.run()

    read_model = ReadModel(table.changelog_topic.get_topic_name(), ignore=is_checkpoint)

    @app.timer(interval=1.0)
    async def keep_read_model_index_warm() -> None:
        read_model.keep_warm()

    # Where local state is kept, the read model is saved when the worker stops (first
    # thing, before its producer's flush can run out the supervisor's grace) and loaded at
    # the next start, which then reads only the changelog's newer records.
    saved = settings.data_dir / "read-model.json" if settings.store != "memory://" else None

    @app.task
    async def follow_projections() -> None:
        if saved is not None and read_model.load(saved):
            log.info("read model loaded", path=str(saved), entities=read_model.size())
        await read_model.follow(bootstrap_servers, "hub-read-model")

    async def save_read_model(*_: Any, **__: Any) -> None:
        if saved is not None:
            read_model.save(saved)

    app.on_before_shutdown.connect(save_read_model)

    return ProjectionTable(table, loop, read_model)
