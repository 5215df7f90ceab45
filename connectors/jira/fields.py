"""Which Jira fields hold story points, epic links and sprints — and noticing when that
changes between syncs.

Custom field ids differ per site and are found by name from ``/field`` (or set in the
settings). Admins do move them: story points migrate to a new field, a field is deleted
or recreated with another type. Reading the old id then returns nothing, and folding
"no estimate" would silently zero every estimate. So each sync compares what it finds
with what the last sync used (kept in the cursor): a field that vanished, moved or
changed type is a warning on the connector's status, and while estimates cannot be read
the snapshots say so (``unknown_fields``) and the folds keep the estimates they had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["DRIFT_MEMORY", "Discovery", "FieldIds", "discover"]

DRIFT_MEMORY = timedelta(days=7)  # how long a one-off change (a move) stays on the status
_NAMES = {
    "story_points": ("story points", "story point estimate"),
    "epic_link": ("epic link",),
    "sprint": ("sprint",),
}
_TYPES = {"story_points": "number", "sprint": "array"}  # what the mapping can read
_LABELS = {"story_points": "story points", "epic_link": "epic link", "sprint": "sprint"}


@dataclass(frozen=True)
class FieldIds:
    """Custom field ids discovered from ``/field`` (or set in the settings)."""

    story_points: str | None = None
    epic_link: str | None = None
    sprint: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class Discovery:
    """What this sync reads, and what it should tell people about the fields."""

    fields: FieldIds
    estimates_readable: bool
    record: dict[str, dict[str, Any]]  # role -> {"id", "type"}: the cursor's memory
    moves: dict[str, str] = field(default_factory=dict)  # "moved" warning -> first seen
    standing: tuple[str, ...] = ()  # problems that last as long as the field stays broken

    @property
    def warnings(self) -> list[str]:
        return [*self.standing, *sorted(self.moves)]

    def cursor(self) -> dict[str, Any]:
        return {"fields": self.record, "field_moves": self.moves}


def _type(definition: Mapping[str, Any] | None) -> str | None:
    return ((definition or {}).get("schema") or {}).get("type")


def _by_name(fields: Sequence[Mapping[str, Any]], role: str) -> str | None:
    """The field a role's names point at; of several, one of the type the role needs."""
    named = [f for f in fields if str(f.get("name", "")).lower() in _NAMES[role]]
    wanted = _TYPES.get(role)
    fitting = [f for f in named if wanted is None or _type(f) in (wanted, None)]
    candidates = fitting or named
    return str(candidates[-1]["id"]) if candidates else None


def discover(
    fields: Sequence[Mapping[str, Any]],
    configured: FieldIds,
    previous: Mapping[str, Any] | None,
    now: datetime,
) -> Discovery:
    """The field ids to read, whether estimates can be read, and what drifted since the
    sync whose cursor is ``previous``."""
    by_id = {f["id"]: f for f in fields if "id" in f}
    last = dict((previous or {}).get("fields") or {})
    moves = {
        message: seen
        for message, seen in ((previous or {}).get("field_moves") or {}).items()
        if datetime.fromisoformat(seen) > now - DRIFT_MEMORY
    }
    ids: dict[str, str | None] = {}
    record: dict[str, dict[str, Any]] = {}
    standing: list[str] = []
    estimates_readable = True
    for role, label in _LABELS.items():
        before = last.get(role) or {}
        chosen = getattr(configured, role) or _by_name(fields, role)
        problem = None
        if chosen is not None and chosen not in by_id:
            problem = f"the {label} field {chosen} no longer exists in Jira"
        elif chosen is None and before.get("id"):
            problem = f"the {label} field {before['id']} no longer exists in Jira"
        elif chosen is not None:
            kind = _type(by_id[chosen])
            if before.get("id") and before["id"] != chosen:
                moves.setdefault(
                    f"the {label} field moved from {before['id']} to {chosen}", now.isoformat()
                )
            wanted = _TYPES.get(role)
            if wanted and kind not in (wanted, None):
                problem = f"the {label} field {chosen} is now of type {kind}, not {wanted}"
            record[role] = {"id": chosen, "type": kind}
        if problem:
            if role == "story_points":
                problem += "; estimates are kept as they were, not zeroed"
                estimates_readable = False
            standing.append(problem)
            record.setdefault(role, dict(before) or {"id": chosen, "type": None})
            chosen = None
        ids[role] = chosen
    return Discovery(
        FieldIds(
            story_points=ids["story_points"],
            epic_link=ids["epic_link"],
            sprint=ids["sprint"],
            team=configured.team,
        ),
        estimates_readable,
        record,
        moves,
        tuple(standing),
    )
