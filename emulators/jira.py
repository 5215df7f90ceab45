"""A Jira emulator: a real HTTP server with Jira's contract, shaped like the real samples.

Both flavours: Cloud (basic auth with email + API token, ``/rest/api/3/search/jql`` paged
by ``nextPageToken``, at most 40 histories per issue in search results) and Data Center
(bearer PAT, ``/rest/api/2/search`` paged by ``startAt``/``total``). JQL ``updated >=
"yyyy/MM/dd HH:mm"`` is read in the calling user's time zone, to the minute, as Jira
does. ``/issue/{key}/changelog`` pages the full history. 401/403, 429 with Retry-After
and 400 for JQL it does not understand are all real answers.

Jira Software's Agile API is there too: boards (``/rest/agile/1.0/board``, scrum or
kanban), their sprints (``/board/{id}/sprint``: state, start, end, complete dates, goal;
a kanban board answers 400) and board issues. ``add_to_sprint`` and ``remove_from_sprint``
change the Sprint field as Jira does, with a changelog item whose ``from``/``to`` list
sprint ids. ``fields`` can be edited to move or retype a custom field between syncs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from emulators.http_server import EmulatorServer, Reply, Request

__all__ = [
    "JiraEmulator",
    "generate_project",
    "jira_time",
    "status_field",
    "status_history",
    "changelog",
]

STATUSES = [
    {"name": "Backlog", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
    {"name": "To Do", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
    {
        "name": "Selected for Development",
        "statusCategory": {"id": 2, "key": "new", "name": "To Do"},
    },
    {
        "name": "In Progress",
        "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
    },
    {"name": "QA", "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"}},
    {"name": "Blocked", "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"}},
    {"name": "Done", "statusCategory": {"id": 3, "key": "done", "name": "Done"}},
]
FIELDS = [
    {"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string"}},
    {
        "id": "customfield_10016",
        "name": "Story Points",
        "custom": True,
        "schema": {
            "type": "number",
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float",
        },
    },
    {
        "id": "customfield_10014",
        "name": "Epic Link",
        "custom": True,
        "schema": {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link"},
    },
    {
        "id": "customfield_10020",
        "name": "Sprint",
        "custom": True,
        "schema": {
            "type": "array",
            "items": "json",
            "custom": "com.pyxis.greenhopper.jira:gh-sprint",
        },
    },
]
SPRINT_FIELD = "customfield_10020"
_JQL = re.compile(
    r'^updated >= "(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2})"'
    r"(?: AND project in \(([^)]*)\))?(?: AND \((.*)\))?"
    r" ORDER BY updated ASC, key ASC$"
)


_CLAUSE = re.compile(r'^(issuetype|labels|status) (=|!=) "?([^"]+)"?$')


def _extra_condition(extra: str | None) -> Any:
    """The small JQL subset the emulator evaluates (``field = value`` joined by AND), or None."""
    if not extra:
        return lambda issue: True
    tests = []
    for clause in extra.split(" AND "):
        match = _CLAUSE.match(clause.strip())
        if not match:
            return None
        name, op, value = match.groups()

        def test(issue: dict[str, Any], name: str = name, op: str = op, value: str = value) -> bool:
            field = issue["fields"].get(name)
            values = field if name == "labels" else [(field or {}).get("name")]
            return (value in (values or [])) == (op == "=")

        tests.append(test)
    return lambda issue: all(t(issue) for t in tests)


def jira_time(moment: datetime) -> str:
    """Jira's wire format: ``2024-07-04T05:41:00.089-0700``."""
    return (
        moment.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}"
        + moment.strftime("%z")
    )


def status_field(name: str) -> dict[str, Any]:
    """An issue's ``status`` field as Jira shows it: the name and its category."""
    found = next(s for s in STATUSES if s["name"] == name)
    return {"name": name, "statusCategory": found["statusCategory"]}


def status_history(
    history_id: str, at: datetime, author: str, from_status: str, to_status: str
) -> dict[str, Any]:
    """One changelog history: a status change, shaped like the recorded samples."""
    return {
        "id": history_id,
        "created": jira_time(at),
        "author": {"accountId": author},
        "items": [
            {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "fromString": from_status,
                "toString": to_status,
            }
        ],
    }


def changelog(histories: list[dict[str, Any]]) -> dict[str, Any]:
    """An issue's expanded changelog holding all of ``histories``."""
    return {
        "startAt": 0,
        "maxResults": len(histories),
        "total": len(histories),
        "histories": histories,
    }


class JiraEmulator(EmulatorServer):
    def __init__(
        self,
        issues: list[dict[str, Any]],
        *,
        flavor: str = "cloud",
        email: str = "bot@example.com",
        token: str = "jira-token",
        user_timezone: str = "America/Los_Angeles",
        webhook_secret: str = "hook",
    ) -> None:
        self.issues = {i["key"]: i for i in issues}
        self.flavor, self.email, self.token = flavor, email, token
        self.user_timezone, self.webhook_secret = user_timezone, webhook_secret
        self.throttle_next = 0
        self.boards: dict[str, list[str]] = {}  # board id -> issue keys on it
        self.board_meta: dict[str, dict[str, Any]] = {}  # board id -> name, type, project
        self.sprints: dict[str, list[dict[str, Any]]] = {}  # board id -> its sprints
        self.fields = [dict(f) for f in FIELDS]
        self.vanished: set[str] = set()  # listed by search, but 404 once read (deleted meanwhile)
        self.forbidden = False  # the account authenticates but may browse nothing
        self.search_history_limit = 40 if flavor == "cloud" else 100
        v = "3" if flavor == "cloud" else "2"
        routes = {
            ("GET", f"/rest/api/{v}/myself"): self._myself,
            ("GET", f"/rest/api/{v}/field"): lambda r: Reply(200, self.fields),
            ("GET", "/rest/agile/1.0/board"): self._boards,
            ("GET", f"/rest/api/{v}/status"): lambda r: Reply(200, STATUSES),
        }
        search = "/rest/api/3/search/jql" if flavor == "cloud" else "/rest/api/2/search"
        routes[("GET", search)] = self._search
        self._routes = routes
        self.v = v
        super().__init__({}, fallback=self._serve)  # every request passes auth and throttling

    # --- plumbing ------------------------------------------------------------------

    def _authorized(self, request: Request) -> Reply | None:
        header = request.headers.get("Authorization", "")
        if self.flavor == "cloud":
            expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        else:
            expected = f"Bearer {self.token}"
        if header != expected:
            return Reply(401, {"errorMessages": ["You are not authenticated."], "errors": {}})
        if self.forbidden and not request.path.endswith("/myself"):
            return Reply(
                403,
                {"errorMessages": ["You do not have the permission to see the specified issue."]},
            )
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return Reply(429, {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": "1"})
        return None

    def _serve(self, request: Request) -> Reply:
        refused = self._authorized(request)
        if refused:
            return refused
        match = re.fullmatch(rf"/rest/api/{self.v}/issue/([A-Z0-9]+-\d+)/changelog", request.path)
        if match:
            return self._changelog(request, match.group(1))
        match = re.fullmatch(r"/rest/agile/1.0/board/(\d+)/issue", request.path)
        if match:
            return self._board(request, match.group(1))
        match = re.fullmatch(r"/rest/agile/1.0/board/(\d+)/sprint", request.path)
        if match:
            return self._board_sprints(request, match.group(1))
        match = re.fullmatch(rf"/rest/api/{self.v}/issue/(\d+)", request.path)
        if match:
            found = [i for i in self.issues.values() if i["id"] == match.group(1)]
            if not found:
                return Reply(
                    404,
                    {
                        "errorMessages": [
                            "Issue does not exist or you do not have permission to see it."
                        ]
                    },
                )
            return Reply(200, self._shape(found[0]) | {"changelog": None})
        match = re.fullmatch(rf"/rest/api/{self.v}/project/([A-Z0-9]+)", request.path)
        if match:
            known = {i["fields"]["project"]["key"] for i in self.issues.values()}
            if match.group(1) in known:
                return Reply(200, {"key": match.group(1)})
            return Reply(
                404, {"errorMessages": [f"No project could be found with key '{match.group(1)}'."]}
            )
        handler = self._routes.get((request.method, request.path))
        return handler(request) if handler else Reply(404, {"errorMessages": ["Not found"]})

    # --- endpoints -----------------------------------------------------------------

    def _myself(self, request: Request) -> Reply:
        return Reply(
            200, {"accountId": "bot", "emailAddress": self.email, "timeZone": self.user_timezone}
        )

    def _search(self, request: Request) -> Reply:
        jql = request.query.get("jql", "")
        match = _JQL.match(jql)
        if not match:
            return Reply(400, {"errorMessages": [f"Error in the JQL Query: {jql!r}"], "errors": {}})
        y, mo, d, h, mi, projects, extra = match.groups()
        condition = _extra_condition(extra)
        if condition is None:
            return Reply(
                400, {"errorMessages": [f"The emulator cannot evaluate {extra!r}"], "errors": {}}
            )
        since = datetime(
            int(y), int(mo), int(d), int(h), int(mi), tzinfo=ZoneInfo(self.user_timezone)
        )
        wanted = {p.strip().strip('"') for p in projects.split(",")} if projects else None
        matching = []
        for updated, key in self._ordered():
            issue = self.issues[key]
            # Jira compares to the minute
            if updated.replace(second=0, microsecond=0) < since:
                continue
            if wanted and issue["fields"]["project"]["key"] not in wanted:
                continue
            if not condition(issue):
                continue
            matching.append(issue)
        size = min(int(request.query.get("maxResults", 50)), 100)
        if self.flavor == "cloud":
            start = int(request.query.get("nextPageToken") or 0)
        else:
            start = int(request.query.get("startAt", 0))
        page = [self._shape(i) for i in matching[start : start + size]]
        if self.flavor == "cloud":
            last = start + size >= len(matching)
            body: dict[str, Any] = {"isLast": last, "issues": page}
            if not last:
                body["nextPageToken"] = str(start + size)
            return Reply(200, body)
        return Reply(
            200, {"startAt": start, "maxResults": size, "total": len(matching), "issues": page}
        )

    def _ordered(self) -> list[tuple[datetime, str]]:
        """Issues by (updated, key), recomputed only when an issue changed."""
        stamp = tuple((k, i["fields"]["updated"]) for k, i in self.issues.items())
        if getattr(self, "_order_stamp", None) != stamp:
            self._order = sorted(
                (datetime.fromisoformat(i["fields"]["updated"]), k) for k, i in self.issues.items()
            )
            self._order_stamp = stamp
        return self._order

    def _shape(self, issue: dict[str, Any]) -> dict[str, Any]:
        histories = sorted(
            issue["changelog"]["histories"], key=lambda h: h["created"], reverse=True
        )
        shown = histories[: self.search_history_limit]
        return {
            "expand": "",
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{self.url}/rest/api/{self.v}/issue/{issue['id']}",
            "fields": issue["fields"],
            "changelog": {
                "startAt": 0,
                "maxResults": len(shown),
                "total": len(histories),
                "histories": shown,
            },
        }

    def _board(self, request: Request, board: str) -> Reply:
        """Jira Software's board issues, paged by startAt/maxResults/total."""
        if board not in self.boards:
            return Reply(404, {"errorMessages": [f"Board {board} does not exist."]})
        keys = self.boards[board]
        start, size = (
            int(request.query.get("startAt", 0)),
            min(int(request.query.get("maxResults", 50)), 50),
        )
        page = [
            {"id": self.issues[k]["id"], "key": k}
            for k in keys[start : start + size]
            if k in self.issues
        ]
        return Reply(
            200, {"startAt": start, "maxResults": size, "total": len(keys), "issues": page}
        )

    def _boards(self, request: Request) -> Reply:
        """Boards, optionally of one project, paged by startAt/maxResults/isLast."""
        project = request.query.get("projectKeyOrId")
        rows = [
            {
                "id": int(b),
                "name": m.get("name", f"Board {b}"),
                "type": m.get("type", "scrum"),
                "location": {"projectKey": m.get("project")},
            }
            for b, m in sorted(self.board_meta.items())
            if project is None or m.get("project") == project
        ]
        return Reply(200, _paged(rows, request))

    def _board_sprints(self, request: Request, board: str) -> Reply:
        meta = self.board_meta.get(board)
        if meta is None:
            return Reply(404, {"errorMessages": [f"Board {board} does not exist."]})
        if meta.get("type") == "kanban":
            return Reply(400, {"errorMessages": ["The board does not support sprints"]})
        return Reply(200, _paged(self.sprints.get(board, []), request))

    def add_sprint(
        self,
        board: str,
        sprint_id: int,
        name: str,
        *,
        state: str = "future",
        start: datetime | None = None,
        end: datetime | None = None,
        complete: datetime | None = None,
        goal: str = "",
    ) -> dict[str, Any]:
        """A sprint on a scrum board, with the Agile API's fields."""
        self.board_meta.setdefault(board, {"type": "scrum", "project": "GEN"})
        sprint: dict[str, Any] = {
            "id": sprint_id,
            "self": f"{self.url}/rest/agile/1.0/sprint/{sprint_id}",
            "state": state,
            "name": name,
            "originBoardId": int(board),
            "goal": goal,
        }
        for name_, moment in (("startDate", start), ("endDate", end), ("completeDate", complete)):
            if moment is not None:
                sprint[name_] = moment.astimezone(ZoneInfo("UTC")).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z"
                )
        self.sprints.setdefault(board, []).append(sprint)
        return sprint

    def _sprint_field(self, ids: list[int]) -> list[dict[str, Any]]:
        by_id = {s["id"]: s for rows in self.sprints.values() for s in rows}
        shown = ("id", "name", "state", "goal", "startDate", "endDate", "completeDate")
        return [
            {k: by_id[i][k] for k in shown if k in by_id[i]}
            | {"boardId": by_id[i]["originBoardId"]}
            for i in ids
        ]

    def _move_sprints(self, key: str, to_ids: list[int], at: datetime) -> None:
        issue = self.issues[key]
        before = [s["id"] for s in issue["fields"].get(SPRINT_FIELD) or []]
        names = {s["id"]: s["name"] for rows in self.sprints.values() for s in rows}
        history_id = str(
            100000 + sum(len(i["changelog"]["histories"]) for i in self.issues.values())
        )
        issue["changelog"]["histories"].append(
            {
                "id": history_id,
                "created": jira_time(at),
                "author": {"accountId": "u1"},
                "items": [
                    {
                        "field": "Sprint",
                        "fieldtype": "custom",
                        "fieldId": SPRINT_FIELD,
                        "from": ", ".join(str(i) for i in before),
                        "fromString": ", ".join(names.get(i, "") for i in before),
                        "to": ", ".join(str(i) for i in to_ids),
                        "toString": ", ".join(names.get(i, "") for i in to_ids),
                    }
                ],
            }
        )
        issue["fields"][SPRINT_FIELD] = self._sprint_field(to_ids)
        issue["fields"]["updated"] = jira_time(at)

    def add_to_sprint(self, key: str, sprint_id: int, at: datetime) -> None:
        before = [s["id"] for s in self.issues[key]["fields"].get(SPRINT_FIELD) or []]
        self._move_sprints(key, [*before, sprint_id], at)

    def remove_from_sprint(self, key: str, sprint_id: int, at: datetime) -> None:
        before = [s["id"] for s in self.issues[key]["fields"].get(SPRINT_FIELD) or []]
        self._move_sprints(key, [i for i in before if i != sprint_id], at)

    def _changelog(self, request: Request, key: str) -> Reply:
        issue = self.issues.get(key)
        if issue is None or key in self.vanished:
            return Reply(
                404,
                {
                    "errorMessages": [
                        "Issue does not exist or you do not have permission to see it."
                    ]
                },
            )
        histories = sorted(issue["changelog"]["histories"], key=lambda h: h["created"])
        start, size = (
            int(request.query.get("startAt", 0)),
            min(int(request.query.get("maxResults", 100)), 100),
        )
        values = histories[start : start + size]
        return Reply(
            200,
            {
                "self": "",
                "maxResults": size,
                "startAt": start,
                "total": len(histories),
                "isLast": start + size >= len(histories),
                "values": values,
            },
        )

    # --- test helpers --------------------------------------------------------------

    def transition(self, key: str, to_status: str, at: datetime) -> None:
        """A status change in Jira: a new history and a new ``updated``."""
        issue = self.issues[key]
        current = issue["fields"]["status"]["name"]
        history_id = str(
            100000 + sum(len(i["changelog"]["histories"]) for i in self.issues.values())
        )
        issue["changelog"]["histories"].append(
            status_history(history_id, at, "u1", current, to_status)
        )
        issue["fields"]["status"] = status_field(to_status)
        issue["fields"]["updated"] = jira_time(at)

    def sign(self, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """Any delivery body, signed as Jira signs it."""
        raw = json.dumps(body).encode()
        signature = (
            "sha256=" + hmac.new(self.webhook_secret.encode(), raw, hashlib.sha256).hexdigest()
        )
        return raw, {"X-Hub-Signature": signature}

    def webhook(
        self, event: str, key: str, history: dict[str, Any] | None, at: datetime
    ) -> tuple[bytes, dict[str, str]]:
        """A signed delivery as Jira sends it (epoch-ms timestamp, changelog with id and items)."""
        body: dict[str, Any] = {
            "timestamp": int(at.timestamp() * 1000),
            "webhookEvent": event,
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "u1"},
            "issue": self._shape(self.issues[key]) | {"changelog": None},
        }
        if history:
            body["changelog"] = {"id": history["id"], "items": history["items"]}
        return self.sign(body)


def _paged(rows: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    """The Agile API's paging: startAt, maxResults, isLast, values."""
    start = int(request.query.get("startAt", 0))
    size = min(int(request.query.get("maxResults", 50)), 50)
    return {
        "maxResults": size,
        "startAt": start,
        "isLast": start + size >= len(rows),
        "values": rows[start : start + size],
    }


def generate_project(
    count: int,
    *,
    project: str = "GEN",
    seed: int = 1,
    start: datetime | None = None,
    histories_per_issue: int = 4,
) -> list[dict[str, Any]]:
    """Issues with changelogs walking Backlog -> ... -> Done, Jira-shaped like the samples."""
    rng = random.Random(seed)
    start = start or datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("America/Los_Angeles"))
    flow = ["Backlog", "Selected for Development", "In Progress", "QA", "Done"]
    issues = []
    history_id = 10000
    for n in range(count):
        created = start + timedelta(minutes=rng.randint(0, 60 * 24 * 20))
        moment = created
        histories = []
        steps = min(histories_per_issue, len(flow) - 1)
        for step in range(steps):
            moment += timedelta(minutes=rng.randint(5, 60 * 24))
            history_id += 1
            histories.append(
                status_history(str(history_id), moment, f"u{n % 7}", flow[step], flow[step + 1])
            )
        issues.append(
            {
                "id": str(20000 + n),
                "key": f"{project}-{n + 1}",
                "changelog": changelog(histories),
                "fields": {
                    "summary": f"Generated issue {n + 1}",
                    "issuetype": {"id": "10001", "name": "Story", "subtask": False},
                    "project": {"id": "12345", "key": project, "name": f"{project} project"},
                    "status": status_field(flow[steps]),
                    "priority": {"name": "Medium", "id": "3"},
                    "labels": [],
                    "components": [],
                    "assignee": {"accountId": f"u{n % 7}", "displayName": f"User {n % 7}"},
                    "created": jira_time(created),
                    "updated": jira_time(moment),
                    "customfield_10016": rng.choice([1, 2, 3, 5, 8]),
                    "parent": None,
                },
            }
        )
    return issues
