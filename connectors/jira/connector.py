"""The Jira connector: incremental JQL pulls with full status history, and webhooks.

JQL compares dates in the calling user's own time zone and to the minute, so the cursor
(kept in UTC) is converted to the zone ``/myself`` reports and moved back by an overlap
window; what the overlap pulls again maps to the same event ids and is ignored downstream.
What it reads is declared in ``streams.py`` (Cloud pages the search by
``nextPageToken``, Data Center by ``startAt``; histories the search truncates are paged
from ``/issue/{key}/changelog``); ``mapping.py`` turns issues into events.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import Connector, ConnectorSettings, Cursor, FieldProblem, Page, Reject
from connectors.jira.fields import Discovery, FieldIds, discover
from connectors.jira.mapping import (
    CORE_FIELDS,
    MappingContext,
    category_of,
    check_shape,
    map_issue,
    sprint_key,
)
from connectors.jira.streams import (
    BOARD_ISSUES,
    BOARD_SPRINTS,
    BOARDS,
    CHANGELOG,
    SEARCH_CLOUD,
    SEARCH_DATACENTER,
)
from connectors.webhooks import verify_hub_signature_sha256
from core.events import Event, parse_utc
from core.http import HttpClient, HttpError
from core.secrets import SecretRef

__all__ = ["JiraConnector", "JiraSettings"]

CONTEXT_TTL = 600.0
_CONTEXTS: dict[tuple[str, str], tuple[float, MappingContext]] = {}


class TeamMapping(BaseModel):
    """Which team owns an issue: by component, then board, then project (after the team
    field, when one is set). Strict, so a misspelt key is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    components: dict[str, str] = Field(default_factory=dict, description="Component -> team.")
    projects: dict[str, str] = Field(default_factory=dict, description="Project key -> team.")
    boards: dict[str, str] = Field(default_factory=dict, description="Board id -> team.")


class JiraSettings(ConnectorSettings):
    base_url: str = Field(pattern=r"^https?://")
    flavor: Literal["cloud", "datacenter"] = "cloud"
    email: str | None = Field(default=None, description="Cloud: the API token's account.")
    api_token: SecretRef | None = Field(default=None, description="Cloud API token.")
    token: SecretRef | None = Field(default=None, description="Data Center personal access token.")
    projects: list[str] = Field(default_factory=list)
    jql: str | None = Field(default=None, description="Extra JQL, ANDed with the rest.")
    story_points_field: str | None = None
    epic_link_field: str | None = None
    sprint_field: str | None = None
    team_field: str | None = None
    team_mapping: TeamMapping = Field(default_factory=TeamMapping)
    start_date: date | None = Field(default=None, description="How far back a first backfill goes.")
    overlap_minutes: int = Field(default=2, ge=1, le=60)
    reconcile_interval_hours: float = Field(
        default=6.0,
        ge=0,
        description="How often to list every key and report issues deleted in Jira (0: never).",
    )
    webhook_secret: SecretRef | None = None
    page_size: int = Field(default=100, ge=1, le=100)
    read_sprints: bool = Field(
        default=True, description="Read boards' sprints (state, dates, goal) from the Agile API."
    )
    sprint_boards: list[str] = Field(
        default_factory=list,
        description="Boards whose sprints to read; none: the projects' scrum boards.",
    )

    @model_validator(mode="after")
    def _credentials_for_flavor(self) -> JiraSettings:
        if self.flavor == "cloud" and not (self.email and self.api_token):
            raise ValueError("cloud needs email and api_token")
        if self.flavor == "datacenter" and not self.token:
            raise ValueError("datacenter needs token")
        return self


class JiraConnector(Connector):
    type_name = "jira"
    system = "jira"
    settings_model = JiraSettings
    supports_webhooks = True
    settings: JiraSettings

    @property
    def _v(self) -> str:
        return "3" if self.settings.flavor == "cloud" else "2"

    def client(self) -> HttpClient:
        s = self.settings
        if s.flavor == "cloud":
            assert s.email and s.api_token
            return self.http(s.base_url, auth=(s.email, self.secrets.resolve(s.api_token)))
        assert s.token
        return self.http(
            s.base_url, headers={"Authorization": f"Bearer {self.secrets.resolve(s.token)}"}
        )

    # --- discovery -----------------------------------------------------------------

    def _context(
        self, client: HttpClient, previous: Cursor | None = None
    ) -> tuple[MappingContext, ZoneInfo, Discovery]:
        me = client.get_json(f"/rest/api/{self._v}/myself")
        try:
            zone = ZoneInfo(me.get("timeZone") or "UTC")
        except ZoneInfoNotFoundError:
            zone = ZoneInfo("UTC")
        s = self.settings
        configured = FieldIds(
            story_points=s.story_points_field,
            epic_link=s.epic_link_field,
            sprint=s.sprint_field,
            team=s.team_field,
        )
        found = discover(
            client.get_json(f"/rest/api/{self._v}/field"), configured, previous, datetime.now(UTC)
        )
        categories = {
            st["name"]: category_of(st) or "todo"
            for st in client.get_json(f"/rest/api/{self._v}/status")
        }
        context = MappingContext(
            self.event,
            s.base_url,
            found.fields,
            categories,
            s.team_mapping.components,
            s.team_mapping.projects,
            self._board_teams(client),
            estimates_readable=found.estimates_readable,
        )
        return context, zone, found

    def _board_teams(self, client: HttpClient) -> dict[str, str]:
        """Issue key -> team, from the boards named in the team mapping (Jira Software API)."""
        teams: dict[str, str] = {}
        for board, team in self.settings.team_mapping.boards.items():
            params = {"maxResults": 50, "fields": "key"}
            for issue in BOARD_ISSUES.records(client, params, path_args={"board": board}):
                teams.setdefault(issue["key"], team)
        return teams

    def _jql(self, since: datetime, zone: ZoneInfo) -> str:
        local = (since - timedelta(minutes=self.settings.overlap_minutes)).astimezone(zone)
        clauses = [f'updated >= "{local:%Y/%m/%d %H:%M}"']
        if self.settings.projects:
            clauses.append(
                "project in (" + ", ".join(json.dumps(p) for p in self.settings.projects) + ")"
            )
        if self.settings.jql:
            clauses.append(f"({self.settings.jql})")
        return " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"

    # --- pulling -------------------------------------------------------------------

    def _pages(
        self, client: HttpClient, jql: str, fields: list[str], expand: bool = True
    ) -> Iterator[list[dict[str, Any]]]:
        params: dict[str, Any] = {
            "jql": jql,
            "fields": ",".join(fields),
            "maxResults": self.settings.page_size,
        }
        if expand:
            params["expand"] = "changelog"
        search = SEARCH_CLOUD if self.settings.flavor == "cloud" else SEARCH_DATACENTER
        for _, issues in search.pages(client, params):
            yield issues

    def _full_histories(
        self, client: HttpClient, issue: Mapping[str, Any]
    ) -> list[dict[str, Any]] | None:
        """The whole changelog when the search truncated it; None when the search's is
        whole. A 404 means the issue was deleted since the search listed it."""
        changelog = issue.get("changelog") or {}
        histories = changelog.get("histories") or []
        if int(changelog.get("total") or len(histories)) <= len(histories):
            return None
        collected = CHANGELOG.records(
            client, {"maxResults": 100}, path_args={"version": self._v, "key": issue["key"]}
        )
        return sorted(collected, key=lambda h: (parse_utc(h["created"]), str(h.get("id"))))

    def _map(
        self, client: HttpClient, issue: Mapping[str, Any], context: MappingContext
    ) -> list[Any]:
        try:
            return map_issue(issue, context, self._full_histories(client, issue))
        except HttpError as exc:
            if exc.status != 404:
                raise
        # deleted between the search and its changelog: what the search showed, then gone
        deleted = self.event(
            "work_item.deleted",
            issue["key"],
            "deleted",
            datetime.now(UTC),
            {"reason": "deleted in Jira while it was being read"},
        )
        return [*map_issue(issue, context, full_history=False), deleted]

    def _boards(self, client: HttpClient) -> list[str]:
        """Boards whose sprints to read: the configured ones, else the projects' boards."""
        if self.settings.sprint_boards:
            return [str(b) for b in self.settings.sprint_boards]
        boards: set[str] = set(self.settings.team_mapping.boards)
        scopes: list[dict[str, Any]] = [{"projectKeyOrId": p} for p in self.settings.projects]
        for params in scopes or [{}]:
            for board in BOARDS.records(client, {**params, "maxResults": 50}):
                if board.get("type", "scrum") == "scrum":
                    boards.add(str(board["id"]))
        return sorted(boards)

    def _sprints(self, client: HttpClient) -> Page:
        """Every sprint of the boards (state, dates, goal) from the Agile API."""
        events, rejects = [], []
        seen: set[str] = set()
        for board in self._boards(client):
            try:
                sprints = BOARD_SPRINTS.records(
                    client, {"maxResults": 50}, path_args={"board": board}
                )
            except HttpError as exc:
                if exc.status in (400, 404):  # a kanban board, or one deleted meanwhile
                    continue
                raise
            for sprint in sprints:
                if str(sprint.get("id")) in seen:
                    continue  # a sprint shared by two boards
                seen.add(str(sprint.get("id")))
                try:
                    events.append(self._sprint_event(board, sprint))
                except (KeyError, TypeError, ValueError) as exc:
                    rejects.append(Reject(sprint, f"cannot map sprint: {exc!r}"))
        return Page(events, {}, rejects)

    def _sprint_event(self, board: str, sprint: Mapping[str, Any]) -> Event:
        state = str(sprint["state"]).lower()
        payload = {
            "name": sprint["name"],
            "board": str(sprint.get("originBoardId") or board),
            "state": state,
            "start_at": sprint.get("startDate"),
            "end_at": sprint.get("endDate"),
            "completed_at": sprint.get("completeDate"),
            "goal": sprint.get("goal") or None,
        }
        # As of the moment its state last changed; a future sprint is as of now.
        stamp = {"closed": "completeDate", "active": "startDate"}.get(state)
        at = parse_utc(sprint[stamp]) if stamp and sprint.get(stamp) else datetime.now(UTC)
        change = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
        return self.event("sprint.upserted", sprint_key(sprint["id"]), change, at, payload)

    def pull(self, cursor: Cursor | None) -> Iterator[Page]:
        client = self.client()
        context, zone, found = self._context(client, cursor)
        warnings = found.warnings
        if cursor and cursor.get("updated"):
            since = datetime.fromisoformat(cursor["updated"])
        elif self.settings.start_date:
            since = datetime.combine(self.settings.start_date, datetime.min.time(), UTC)
        else:
            since = datetime(1970, 1, 2, tzinfo=UTC)
        fields = [
            *CORE_FIELDS,
            *(
                f
                for f in (
                    context.fields.story_points,
                    context.fields.epic_link,
                    context.fields.sprint,
                    context.fields.team,
                )
                if f
            ),
        ]
        newest = since
        known = set((cursor or {}).get("keys") or [])
        reconciled_at = (cursor or {}).get("reconciled_at")
        # The overlap re-reads recent issues on every poll; those whose ``updated`` we
        # already read are skipped rather than mapped and produced again.
        recent: dict[str, str] = dict((cursor or {}).get("recent") or {})

        def position() -> Cursor:
            # Pruned as we go, so a backfill's memory stays flat.
            window = newest - timedelta(minutes=self.settings.overlap_minutes + 1)
            for key in [k for k, u in recent.items() if parse_utc(u) < window]:
                del recent[key]
            return {
                "updated": newest.isoformat(),
                "keys": sorted(known),
                "reconciled_at": reconciled_at,
                "recent": dict(sorted(recent.items())),
                **found.cursor(),
            }

        for issues in self._pages(client, self._jql(since, zone), fields):
            events, rejects = [], []
            for issue in issues:
                stamp = (issue.get("fields") or {}).get("updated")
                if isinstance(stamp, str) and recent.get(str(issue.get("key"))) == stamp:
                    continue  # read on an earlier poll, unchanged since
                if isinstance(stamp, str) and isinstance(issue.get("key"), str):
                    recent[issue["key"]] = stamp  # a rejected one is dead-lettered once, too
                try:
                    check_shape(issue, complete=True)
                    events.extend(self._map(client, issue, context))
                    known.add(issue["key"])
                    updated = (issue.get("fields") or {}).get("updated")
                    if isinstance(updated, str):
                        newest = max(newest, parse_utc(updated))
                except (KeyError, TypeError, ValueError) as exc:
                    rejects.append(Reject(issue, f"cannot map issue {issue.get('key')!r}: {exc!r}"))
            yield Page(events, position(), rejects, warnings)
        if self.settings.read_sprints:
            sprints = self._sprints(client)
            yield Page(sprints.events, position(), sprints.rejects, warnings)
        if cursor is None:
            # a first backfill just saw every key there is: nothing to reconcile yet
            reconciled_at = datetime.now(UTC).isoformat()
            yield Page([], position(), warnings=warnings)
        elif self._reconcile_due(reconciled_at):
            now = datetime.now(UTC)
            present = {
                issue["key"]
                for page in self._pages(
                    client,
                    self._jql(datetime(1970, 1, 2, tzinfo=UTC), zone),
                    ["updated"],
                    expand=False,
                )
                for issue in page
            }
            gone = sorted(known - present)
            known, reconciled_at = present, now.isoformat()
            deletions = [
                self.event(
                    "work_item.deleted", key, "deleted", now, {"reason": "no longer found in Jira"}
                )
                for key in gone
            ]
            yield Page(deletions, position(), warnings=warnings)
        else:
            yield Page([], position(), warnings=warnings)

    def _reconcile_due(self, reconciled_at: str | None) -> bool:
        hours = self.settings.reconcile_interval_hours
        if not hours:
            return False
        if reconciled_at is None:
            return True
        return datetime.now(UTC) - datetime.fromisoformat(reconciled_at) >= timedelta(hours=hours)

    def check(self) -> list[FieldProblem]:
        credential = "settings.api_token" if self.settings.flavor == "cloud" else "settings.token"
        client, problems = self.probe(credential, f"/rest/api/{self._v}/myself")
        if client is None:
            return problems
        problems = []
        for index, key in enumerate(self.settings.projects):
            try:
                client.get_json(f"/rest/api/{self._v}/project/{key}")
            except HttpError as exc:
                problems.append(
                    FieldProblem(
                        f"settings.projects.{index}",
                        f"project {key!r} not found or not visible ({exc.status})",
                    )
                )
        return problems

    # --- webhooks ------------------------------------------------------------------

    def _worklog_webhook(self, kind: str, payload: Mapping[str, Any]) -> Page:
        """worklog_created/updated carry the issue's id only; its key comes from Jira."""
        log = payload.get("worklog") or {}
        if kind == "worklog_deleted" or not log.get("issueId") or not log.get("started"):
            return Page([], {})  # a removed worklog has no canonical event (yet)
        issue = self.client().get_json(
            f"/rest/api/{self._v}/issue/{log['issueId']}", params={"fields": "summary"}
        )
        at = parse_utc(log.get("updated") or log["started"])
        event = self.event(
            "work_item.worklog_added",
            issue["key"],
            f"worklog:{log['id']}",
            at,
            {
                "worklog_id": str(log["id"]),
                "author": (log.get("author") or {}).get("accountId"),
                "started_at": parse_utc(log["started"]).isoformat(),
                "seconds_spent": int(log.get("timeSpentSeconds") or 0),
            },
        )
        return Page([event], {})

    def _cached_context(self) -> MappingContext:
        """Status categories and field ids change rarely; a webhook should not rediscover them."""
        key = (self.name, self.settings.base_url)
        cached = _CONTEXTS.get(key)
        if cached is None or cached[0] < time.monotonic():
            context, _, _ = self._context(self.client())
            cached = _CONTEXTS[key] = (time.monotonic() + CONTEXT_TTL, context)
        return cached[1]

    def verify_webhook(self, method: str, uri: str, headers: Mapping[str, str], body: bytes) -> str:
        return verify_hub_signature_sha256(self.webhook_secret(), headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Page:
        try:
            payload = json.loads(body)
            kind = payload["webhookEvent"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return Page(
                [], {}, [Reject(body.decode(errors="replace"), f"not a Jira webhook: {exc!r}")]
            )
        if str(kind).startswith("worklog_"):
            return self._worklog_webhook(kind, payload)
        try:
            issue = payload["issue"]
            check_shape(issue, complete=False)
            stamp = payload.get("timestamp")
            # Jira sends epoch milliseconds; a delivery without them dates from the issue itself.
            if isinstance(stamp, int):
                at = datetime.fromtimestamp(stamp / 1000, UTC)
            else:
                at = parse_utc(issue["fields"]["updated"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return Page(
                [],
                {},
                [Reject(body.decode(errors="replace"), f"not a Jira issue webhook: {exc!r}")],
            )
        if kind == "jira:issue_deleted":
            return Page(
                [
                    self.event(
                        "work_item.deleted",
                        issue["key"],
                        "deleted",
                        at,
                        {"reason": "deleted in Jira"},
                    )
                ],
                {},
            )
        context = self._cached_context()
        changelog = payload.get("changelog") or {}
        histories = []
        if changelog.get("items"):
            histories.append(
                {
                    "id": changelog.get("id"),
                    "created": at.isoformat(),
                    "author": payload.get("user"),
                    "items": changelog["items"],
                }
            )
        events = map_issue(issue, context, histories, full_history=False)
        if kind != "jira:issue_created":
            events = [e for e in events if e.type != "work_item.created"]
        return Page(events, {})
