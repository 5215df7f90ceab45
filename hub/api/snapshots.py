"""Where a query's data comes from: the live read model, or the log rebuilt up to ``as_of``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.events import utcnow
from hub.api.errors import ApiError
from hub.rebuild import rebuild_async
from projections.rollups import Entities, WorkIndex

if TYPE_CHECKING:
    from hub.services import Services

__all__ = ["Snapshot", "snapshot"]


@dataclass(frozen=True)
class Snapshot:
    entities: Entities
    index: WorkIndex
    as_of: datetime | None

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.entities.get(kind, {}).get(key)

    def require_team(self, team: str) -> None:
        """404 unless the roadmap defines ``team`` or some work item names it."""
        if team in self.entities.get("team", {}):
            return
        if not any(v["team"] == team for v in self.index.stable.values()):
            raise ApiError(404, "not_found", f"no team {team!r}")


async def snapshot(services: Services, as_of: datetime | None) -> Snapshot:
    """The live read model, or the log rebuilt up to ``as_of`` (time travel).

    An ``as_of`` that has not happened yet needs no rebuild: everything the log holds is
    older, so the answer is the live model read with that moment as its clock.
    """
    model = services.read_model
    if as_of is None or as_of >= utcnow():
        index = model.index()  # with the entities it was built over, not the live ones
        if as_of is None:
            return Snapshot(index.entities, index, None)
        return Snapshot(index.entities, index.at(as_of), as_of)

    entities, _ = await rebuild_async(services.bootstrap_servers, until=as_of)
    return Snapshot(entities, WorkIndex(entities, as_of), as_of)
