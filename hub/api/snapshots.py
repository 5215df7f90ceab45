"""Where a query's data comes from: the live read model, or the log rebuilt up to ``as_of``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.rebuild import rebuild_async
from projections.rollups import Entities, WorkIndex

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["Snapshot", "snapshot"]


@dataclass(frozen=True)
class Snapshot:
    entities: Entities
    index: WorkIndex
    as_of: datetime | None

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.entities.get(kind, {}).get(key)


async def snapshot(app: HubApp, as_of: datetime | None) -> Snapshot:
    model = app.read_model  # type: ignore[attr-defined]
    if as_of is None:
        return Snapshot(model.entities, model.index(), None)

    entities, _ = await rebuild_async(app.bootstrap_servers, until=as_of)
    return Snapshot(entities, WorkIndex(entities, as_of), as_of)
