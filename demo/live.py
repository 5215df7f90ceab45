"""Live activity on an accelerated clock: what a working day looks like, in minutes.

Every tick moves work forward in Jira (and tells the hub by a signed webhook, as Jira
would), opens and solves support tickets, and now and then adds scope to an initiative.
Mobile finishes its in-progress work a little at a time once the demo has run a while,
so its WIP alert resolves while you watch.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

import requests
import structlog

from demo.feedback import EMERGING, EVERYDAY, request_words
from demo.organisation import TEAMS, Organisation, zendesk_ticket
from demo.sources import JIRA_CONNECTOR, DemoSources
from emulators.jira import changelog, jira_time, status_field

__all__ = ["LiveActivity", "MOBILE_CALM_AFTER"]

log = structlog.get_logger(__name__)

MOBILE_CALM_AFTER = 100.0  # seconds into the demo before Mobile starts finishing work
MOBILE_EVERY = 12.0  # seconds between Mobile's finished items
NEXT = {"Selected for Development": "In Progress", "In Progress": "QA", "QA": "Done"}
HELD_STILL = ("PLAT", "SRCH")  # platform stays buried, search stays unstarted


class LiveActivity:
    def __init__(
        self, org: Organisation, sources: DemoSources, hub_url: str, seed: int = 11
    ) -> None:
        self.org, self.sources, self.hub_url = org, sources, hub_url.rstrip("/")
        self.rng = random.Random(seed)
        self.words = random.Random(f"live-words-{seed}")  # text apart: activity unchanged
        self.started: datetime | None = None
        self.last_mobile = 0.0
        self.changes = 0
        self.webhooks_sent = 0
        self.next_ticket = 90_000
        self.wip_limits = {t.project: t.wip_limit for t in TEAMS}

    def _project(self, issue: dict[str, Any]) -> str:
        return str(issue["fields"]["project"]["key"])

    def _transition(self, key: str, to: str, now: datetime) -> None:
        jira = self.sources.jira
        jira.transition(key, to, now)
        history = jira.issues[key]["changelog"]["histories"][-1]
        raw, headers = jira.webhook("jira:issue_updated", key, history, now)
        self.changes += 1
        try:
            requests.post(
                f"{self.hub_url}/webhooks/{JIRA_CONNECTOR}",
                data=raw,
                headers={**headers, "Content-Type": "application/json"},
                timeout=5,
            )
            self.webhooks_sent += 1
        except requests.RequestException:
            pass  # the hub is not up yet or restarting; the next poll picks the change up

    def step(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        if self.started is None:
            self.started = now
        elapsed = (now - self.started).total_seconds()
        jira = self.sources.jira
        with jira.lock:
            issues = list(jira.issues.values())
            active = [
                i
                for i in issues
                if i["fields"]["status"]["name"] in NEXT
                and self._project(i) not in (*HELD_STILL, "MOB")
            ]
            if active and self.rng.random() < 0.7:
                issue = self.rng.choice(active)
                self._transition(issue["key"], NEXT[issue["fields"]["status"]["name"]], now)
            backlog = [
                i
                for i in issues
                if i["fields"]["status"]["name"] == "Backlog"
                and i["fields"]["issuetype"]["name"] != "Epic"
                and self._project(i) not in (*HELD_STILL, "MOB")
            ]
            if backlog and self.rng.random() < 0.5:
                # Teams pull new work when they have room: WIP stays under their limits.
                pick = self.rng.choice(backlog)
                project = self._project(pick)
                busy = sum(1 for i in active if self._project(i) == project)
                if busy < self.wip_limits.get(project, 0) - 3:
                    self._transition(pick["key"], "In Progress", now)
            mobile = [
                i
                for i in issues
                if self._project(i) == "MOB"
                and i["fields"]["status"]["name"] in ("In Progress", "QA")
                and i["fields"]["issuetype"]["name"] != "Epic"
            ]
            if elapsed >= MOBILE_CALM_AFTER and elapsed - self.last_mobile >= MOBILE_EVERY:
                if mobile:
                    self._transition(mobile[0]["key"], "Done", now)
                self.last_mobile = elapsed
            if self.rng.random() < 0.1:
                self._add_scope(issues, now)
        zendesk = self.sources.zendesk
        with zendesk.lock:
            if self.rng.random() < 0.4:
                self._new_ticket(now)
            solvable = [
                t
                for t in zendesk.tickets.values()
                if t["status"] == "open" and t["group_id"] not in (203, 206)
            ]
            if solvable and self.rng.random() < 0.4:
                zendesk.change_status(self.rng.choice(solvable)["id"], "solved", now)

    def _add_scope(self, issues: list[dict[str, Any]], now: datetime) -> None:
        """A new story under Growth's onboarding epic: scope added after commitment."""
        epic = next(i for i in issues if i["fields"]["summary"] == "Self-serve onboarding")
        template = next(
            i for i in issues if (i["fields"].get("parent") or {}).get("key") == epic["key"]
        )
        jira = self.sources.jira
        number = 1 + max(int(k.split("-")[1]) for k in jira.issues if k.startswith("GROW-"))
        story = copy.deepcopy(template)
        story["key"] = f"GROW-{number}"
        story["id"] = str(90_000 + number)
        story["changelog"] = changelog([])
        story["fields"].update(
            summary=f"Self-serve onboarding: requested {now:%H:%M:%S}",
            status=status_field("Backlog"),
            created=jira_time(now),
            updated=jira_time(now),
        )
        jira.issues[story["key"]] = story
        self.changes += 1

    def _new_ticket(self, now: datetime) -> None:
        self.next_ticket += 1
        team = self.rng.choice(TEAMS) if self.rng.random() < 0.3 else None
        if team is not None and team.key in ("platform", "search"):
            team = None
        # Half of what arrives now is about failing report exports: an emerging theme.
        words = self.words
        theme = EMERGING if words.random() < 0.5 else EVERYDAY[words.choice(sorted(EVERYDAY))]
        subject, description = request_words(words, theme)
        ticket, audits = zendesk_ticket(
            self.next_ticket,
            now,
            organisation=self.rng.choice(self.org.zendesk_orgs),
            rng=self.rng,
            team=team,
            solved=None,
            subject=subject,
            description=description,
        )
        # Opened now: its later audit times would be in the future; keep what happened.
        audits = [a for a in audits if a["created_at"] <= now.strftime("%Y-%m-%dT%H:%M:%SZ")]
        ticket["updated_at"] = audits[-1]["created_at"]
        ticket["generated_timestamp"] = int(now.timestamp())
        if len(audits) < 3:
            ticket["status"] = "new"
            ticket["group_id"] = 100
        zendesk = self.sources.zendesk
        zendesk.tickets[ticket["id"]] = ticket
        zendesk.audits[ticket["id"]] = audits
        self.changes += 1
