"""``GET /api/v1/entities/{kind}/{key}``: what the hub has heard about one entity.

Served by the worker that owns the key's partition; others forward the request there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View
from pydantic import TypeAdapter, ValidationError

from hub.api.errors import ApiError
from hub.api.routing import forward_to_owner
from hub.events import EntityKind, EntityRef
from projections.tracking import TRACKING_KEY

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register", "public_view"]

_KIND = TypeAdapter(EntityKind)


def public_view(state: dict[str, Any]) -> dict[str, Any]:
    """A stored value without the bookkeeping, plus how many events it reflects."""
    view = {k: v for k, v in state.items() if k != TRACKING_KEY}
    return view


def register(app: HubApp) -> None:
    @app.page("/api/v1/entities/{kind}/{key}")
    async def entity(self: View, request: Request, kind: str, key: str) -> Response:
        try:
            ref = EntityRef(kind=_KIND.validate_python(kind), key=key)
        except ValidationError:
            raise ApiError(400, "bad_kind", f"unknown entity kind {kind!r}") from None
        forwarded = await forward_to_owner(app, app.ledger, ref.stream_key, self, request)  # type: ignore[attr-defined]
        if forwarded is not None:
            return forwarded
        state = app.ledger.get(ref.stream_key)  # type: ignore[attr-defined]
        if state is None:
            raise ApiError(404, "not_found", f"no {kind} {key!r} has been seen")
        return self.json(public_view(state))
