"""The demo's scrum teams: two-week sprints on their boards, planned from the generated work.

Payments and Growth work in sprints (the other teams in flow, on no scrum board). Each
sprint commits the team's items that start in it, a few picked up mid-sprint count as
added, and what is unfinished at the close carries over into the next sprint. Payments
also commits a handful of backlog items every sprint that it never reaches: its planning
accuracy runs well under Growth's, which SprintOvercommit notices.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from demo.organisation import TEAMS, Organisation
from emulators.jira import JiraEmulator

__all__ = ["add_sprints", "SCRUM_TEAMS"]

SCRUM_TEAMS = {"payments": 3, "growth": 0}  # team -> backlog items overcommitted per sprint
SPRINT = timedelta(days=14)
SPRINTS = 6  # five closed and the active one


def _moments(issue: dict[str, object], status: str) -> list[datetime]:
    histories = issue["changelog"]["histories"]  # type: ignore[index]
    return [
        datetime.fromisoformat(h["created"])
        for h in histories
        if any(i.get("field") == "status" and i.get("toString") == status for i in h["items"])
    ]


class _Sprints:
    """Sprint changes with history ids of their own (the emulator numbers them by count,
    which could repeat the ids of the generated status histories)."""

    def __init__(self, jira: JiraEmulator) -> None:
        self.jira, self.next_id = jira, 900_000

    def move(self, key: str, sprint_id: int, at: datetime) -> None:
        self.jira.add_to_sprint(key, sprint_id, at)
        self.next_id += 1
        self.jira.issues[key]["changelog"]["histories"][-1]["id"] = str(self.next_id)


def add_sprints(jira: JiraEmulator, org: Organisation) -> None:
    """Boards, sprints and every sprint change, into the emulator's issues' changelogs."""
    rng = random.Random(org.seed + 11)
    sprints = _Sprints(jira)
    now = org.now
    monday = (now - timedelta(days=now.weekday())).replace(hour=9)
    first = monday - SPRINT * (SPRINTS - 1)
    for number, (key, overcommit) in enumerate(SCRUM_TEAMS.items(), start=1):
        team = next(t for t in TEAMS if t.key == key)
        board = str(number)
        jira.board_meta[board] = {"type": "scrum", "project": team.project, "name": team.name}
        windows = [(first + SPRINT * n, first + SPRINT * (n + 1)) for n in range(SPRINTS)]
        ids = [number * 100 + n + 1 for n in range(SPRINTS)]
        for n, (start, end) in enumerate(windows):
            closed = end <= now
            jira.add_sprint(
                board, ids[n], f"{team.name} sprint {n + 1}",
                state="closed" if closed else "active", start=start, end=end,
                complete=end if closed else None, goal=f"{team.name} increment {n + 1}",
            )  # fmt: skip
        issues = [
            i
            for i in jira.issues.values()
            if i["fields"]["project"]["key"] == team.project
            and i["fields"]["issuetype"]["name"] != "Epic"
        ]
        backlog = [i for i in issues if not _moments(i, "In Progress")]
        rng.shuffle(backlog)
        for issue in issues:
            started = _moments(issue, "In Progress")
            if not started:
                continue
            done = _moments(issue, "Done")
            _plan(sprints, issue["key"], started[0], done[-1] if done else None, windows, ids, now)
        for n, (start, _end) in enumerate(windows):  # committed, never reached
            for issue in backlog[n * overcommit : (n + 1) * overcommit]:
                sprints.move(issue["key"], ids[n], start - timedelta(hours=2))
                if n + 1 < len(windows) and windows[n][1] <= now:
                    next_start = windows[n + 1][0]
                    sprints.move(issue["key"], ids[n + 1], next_start - timedelta(hours=1))


def _plan(
    sprints: _Sprints,
    key: str,
    started: datetime,
    done: datetime | None,
    windows: list[tuple[datetime, datetime]],
    ids: list[int],
    now: datetime,
) -> None:
    """Into the sprint it started in (committed, or added if it started late in it), then
    carried into each following sprint while it is unfinished at a close."""
    for n, (start, end) in enumerate(windows):
        if not start - timedelta(days=2) <= started < end:
            continue
        late = started >= end - timedelta(days=4)
        sprints.move(key, ids[n], started if late else start - timedelta(hours=2))
        for m in range(n, len(windows) - 1):
            close = windows[m][1]
            if close > now or (done is not None and done <= close):
                break
            sprints.move(key, ids[m + 1], windows[m + 1][0] - timedelta(hours=1))
        return
