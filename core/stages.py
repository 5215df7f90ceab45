"""Life-cycle stages, named once: what the views report and everything downstream filters on.

The projections derive these stages; the API validates filters against them; the drift
rules and the dashboard select by them. One definition keeps the three from drifting.
"""

from __future__ import annotations

__all__ = [
    "ACTIVE_WORK_STAGES",
    "OPEN_ROADMAP_STAGES",
    "REQUEST_STAGES",
    "ROADMAP_STAGES",
    "WORK_ITEM_STAGES",
]

WORK_ITEM_STAGES = ("todo", "in_progress", "blocked", "done", "deleted")
ACTIVE_WORK_STAGES = ("in_progress", "blocked")  # work in progress, for WIP counts
ROADMAP_STAGES = ("concept", "planned", "in_progress", "launched", "retired", "cancelled")
OPEN_ROADMAP_STAGES = ("concept", "planned", "in_progress")  # not yet delivered or stopped
REQUEST_STAGES = ("opened", "linked", "delivered", "closed")
