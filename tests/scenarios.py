"""Generated, reproducible event histories for end-to-end tests and benchmarks."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from core.codec import decode_dict
from core.events import Event
from tests.helpers import event_dict

__all__ = ["organisation", "sprint_events", "SPRINT_START"]

FLOW = [
    ("To Do", "todo"),
    ("In Progress", "in_progress"),
    ("In Review", "in_progress"),
    ("Done", "done"),
]


def organisation(items: int, seed: int = 7, prefix: str = "GEN") -> list[Event]:
    """Teams, roadmap items and ``items`` work items that all finish, plus requests.

    Every work item ends Done, so the projections' numbers do not depend on "now".
    """
    rng = random.Random(seed)
    start = datetime(2026, 2, 2, 9, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    teams = [f"{prefix.lower()}-team-{n}" for n in range(3)]
    for team in teams:
        rows.append(
            event_dict(
                "team.defined",
                team,
                "v1",
                at=start,
                payload={"name": team, "capacity_fte": 5, "wip_limit": 6},
            )
        )
    roadmap = [f"{prefix}-R{n}" for n in range(4)]
    for n, key in enumerate(roadmap):
        rows.append(
            event_dict(
                "roadmap_item.planned",
                key,
                "v1",
                at=start,
                payload={
                    "title": f"Initiative {n}",
                    "teams": [teams[n % 3]],
                    "epics": [f"{prefix}-E{n}"],
                    "committed_at": (start + timedelta(days=1)).isoformat(),
                },
            )
        )
        rows.append(
            event_dict(
                "work_item.created",
                f"{prefix}-E{n}",
                "c",
                at=start,
                payload={
                    "title": f"Epic {n}",
                    "item_type": "Epic",
                    "team": teams[n % 3],
                    "status": "To Do",
                    "status_category": "todo",
                },
            )
        )
    for n in range(items):
        key = f"{prefix}-{n}"
        team = teams[n % 3]
        created = start + timedelta(hours=rng.randint(0, 200))
        parent = f"{prefix}-E{rng.randrange(4)}" if rng.random() < 0.7 else None
        rows.append(
            event_dict(
                "work_item.created",
                key,
                "c",
                at=created,
                payload={
                    "title": f"Item {n}",
                    "item_type": rng.choice(["Story", "Bug", "Task"]),
                    "team": team,
                    "parent": parent,
                    "estimate": rng.choice([1, 2, 3, 5, 8]),
                    "status": "To Do",
                    "status_category": "todo",
                    "assignee": f"p{rng.randrange(9)}",
                    "created_at": created.isoformat(),
                },
            )
        )
        moment = created
        for step, ((old, old_cat), (new, new_cat)) in enumerate(itertools.pairwise(FLOW)):
            moment += timedelta(hours=rng.randint(1, 72))
            rows.append(
                event_dict(
                    "work_item.status_changed",
                    key,
                    f"s{step}",
                    at=moment,
                    payload={
                        "from_status": old,
                        "to_status": new,
                        "from_category": old_cat,
                        "to_category": new_cat,
                    },
                )
            )
        if n % 10 == 0:
            request = f"{prefix}-Z{n}"
            rows.append(
                event_dict(
                    "customer_request.opened",
                    request,
                    "o",
                    at=created,
                    payload={"title": f"Ask {n}", "account": f"{prefix}-acct-{n % 5}"},
                )
            )
            rows.append(
                event_dict(
                    "customer_request.linked",
                    request,
                    "l",
                    at=created,
                    payload={"relation": "work_item", "target": {"kind": "work_item", "key": key}},
                )
            )
    for a in range(5):
        rows.append(
            event_dict(
                "customer_account.upserted",
                f"{prefix}-acct-{a}",
                "u",
                at=start,
                payload={"name": f"Account {a}", "arr": 10000 * (a + 1)},
            )
        )
    return [decode_dict(row) for row in rows]


SPRINT_START = datetime(2026, 2, 9, 9, tzinfo=UTC)


def sprint_events(prefix: str) -> list[Event]:
    """A closed two-week sprint: items 1..8 in it before the start, item 9 added on its
    third day, item 2 removed on its fourth (the keys of ``organisation(prefix=...)``)."""
    rows = [
        event_dict(
            "sprint.upserted",
            "jira-sprint-900",
            "s",
            at=SPRINT_START + timedelta(days=15),
            payload={
                "name": f"{prefix} sprint",
                "board": "9",
                "state": "closed",
                "start_at": SPRINT_START.isoformat(),
                "end_at": (SPRINT_START + timedelta(days=14)).isoformat(),
                "completed_at": (SPRINT_START + timedelta(days=14)).isoformat(),
            },
        )
    ]
    moves = [(f"{prefix}-{n}", -1, "added") for n in range(1, 9)]
    moves += [(f"{prefix}-9", 2, "added"), (f"{prefix}-2", 3, "removed")]
    for key, days, how in moves:
        rows.append(
            event_dict(
                "work_item.sprint_changed",
                key,
                f"sprint-{how}",
                at=SPRINT_START + timedelta(days=days),
                payload={how: ["jira-sprint-900"]},
            )
        )
    return [decode_dict(r) for r in rows]
