"""People's decisions about feedback themes: renames, merges, splits and roadmap links.

Themes are computed from the requests (``themes.model``); what people decide about them is
on the log as ``theme.edited`` events keyed by theme id, so it survives every rebuild and
replay. The fold keeps every edit in time order; what they add up to is read by
``decisions``, order-tolerant like every fold.
"""

from __future__ import annotations

from typing import Any

from core.events import Event, ThemeEdited, iso
from projections.timeline import insert_sorted

__all__ = ["decisions", "fold_theme"]

State = dict[str, Any]


def fold_theme(state: State | None, event: Event) -> State:
    state = state or {"kind": "theme", "key": event.entity.key, "edits": []}
    if isinstance(event, ThemeEdited):
        edit = {"at": iso(event.occurred_at), "id": event.event_id}
        edit.update(event.payload.model_dump(mode="json", exclude={"attributes"}))
        state = {**state, "edits": insert_sorted(state["edits"], edit)}
    return state


def decisions(state: State) -> dict[str, Any]:
    """The theme's name, where it was merged, its splits and its roadmap links as of its
    latest edits: the last rename wins, a link stands until unlinked."""
    name, into, splits, links = None, None, [], {}
    for edit in state["edits"]:
        match edit["action"]:
            case "rename":
                name = edit["name"]
            case "merge":
                into = edit["into"]
            case "split":
                splits.append({"at": edit["at"], "requests": list(edit["requests"])})
            case "link":
                links[edit["roadmap_item"]] = edit["at"]
            case "unlink":
                links.pop(edit["roadmap_item"], None)
    return {"name": name, "merged_into": into, "splits": splits, "links": sorted(links)}
