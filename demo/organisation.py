"""A generated organisation: six teams, twelve initiatives, their Jira work over the past
quarters, support tickets and CRM deals; reproducible from a seed and a day.

Some teams drift on purpose, so the demo has something to say within its first minutes:
Payments' checkout initiative cannot make its target at its pace (forecast slip), the
partner API is past due, Platform is buried in escalated support, Growth's onboarding
flow grew well past its committed scope, Search has urgent customer demand waiting on an
unstarted initiative, and Mobile is over its WIP limit (the live activity brings it back
under, so that alert resolves while you watch).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from demo.feedback import EMERGING, EVERYDAY, UNADDRESSED, request_words
from emulators.hubspot import PIPELINE, company_record, deal_record, stage_history
from emulators.jira import changelog, jira_time, status_field, status_history

__all__ = [
    "Organisation",
    "TeamSpec",
    "InitiativeSpec",
    "TEAMS",
    "INITIATIVES",
    "generate",
    "zendesk_ticket",
]

JIRA_FIELD = "360004567"  # the Zendesk custom field holding Jira keys
TIER1_GROUP = 100


@dataclass(frozen=True)
class TeamSpec:
    key: str
    name: str
    project: str
    members: tuple[str, ...]
    wip_limit: int
    cost_rate: float
    group_id: int  # the Zendesk group that escalations to this team land in
    bugs_per_week: float  # unplanned work arriving


@dataclass(frozen=True)
class InitiativeSpec:
    id: str
    title: str
    team: str
    stories: int
    started_weeks_ago: float | None  # None: not started
    done_per_week: float  # pace of finished stories
    target_in_days: int  # negative: in the past
    priority: str = "medium"
    committed_weeks_ago: float | None = None
    added_after_commit: int = 0
    planned_fte: float = 1.0
    budget: float | None = None
    stalled_days: int = 0  # no activity for this long
    in_progress: int = 2  # stories in progress now (if not finished)


TEAMS = (  # key, name, project, members, WIP limit, cost per FTE-week, group, bugs a week
    TeamSpec(
        "payments", "Payments", "PAY", ("ana", "ben", "chen", "dee", "eli"), 12, 4200, 201, 1.5
    ),
    TeamSpec("growth", "Growth", "GROW", ("fay", "gus", "hal", "ida"), 10, 3800, 202, 1.0),
    TeamSpec("platform", "Platform", "PLAT", ("jon", "kim", "lea", "max"), 10, 4500, 203, 2.0),
    TeamSpec("mobile", "Mobile", "MOB", ("ned", "oli", "pam", "quin"), 4, 4000, 204, 1.0),
    TeamSpec("data", "Data", "DATA", ("ray", "sam", "tia"), 9, 4300, 205, 2.5),
    TeamSpec("search", "Search", "SRCH", ("uma", "vic", "wes", "xia"), 10, 4100, 206, 1.0),
)

INITIATIVES = (
    InitiativeSpec(
        "checkout-v2",
        "Checkout v2",
        "payments",
        40,
        8,
        1.5,
        10,
        "high",
        committed_weeks_ago=8,
        planned_fte=2.0,
        budget=400_000,
    ),
    InitiativeSpec("fraud-rules", "Fraud rules engine", "payments", 18, 16, 2.0, -20),
    InitiativeSpec(
        "onboarding-flow",
        "Self-serve onboarding",
        "growth",
        20,
        6,
        2.0,
        80,
        "high",
        committed_weeks_ago=6,
        added_after_commit=14,
        planned_fte=1.5,
    ),
    InitiativeSpec("referrals", "Referral program", "growth", 16, 5, 2.0, 90, planned_fte=1.5),
    InitiativeSpec(
        "partner-api",
        "Partner API",
        "platform",
        24,
        12,
        1.5,
        -5,
        "high",
        committed_weeks_ago=12,
        planned_fte=1.5,
    ),
    InitiativeSpec(
        "observability",
        "Observability baseline",
        "platform",
        14,
        10,
        1.0,
        60,
        committed_weeks_ago=9,
        stalled_days=20,
        in_progress=1,
    ),
    InitiativeSpec(
        "offline-mode", "Offline mode", "mobile", 22, 7, 2.0, 50, in_progress=7, planned_fte=2.0
    ),
    InitiativeSpec("mobile-redesign", "Mobile redesign", "mobile", 12, 18, 1.5, -30),
    InitiativeSpec("analytics-v2", "Analytics v2", "data", 20, 9, 1.5, 80, planned_fte=1.0),
    InitiativeSpec("warehouse", "Warehouse migration", "data", 16, 6, 1.5, 120),
    InitiativeSpec(
        "search-relevance",
        "Search relevance",
        "search",
        18,
        None,
        0,
        240,
        "high",
        committed_weeks_ago=3,
        planned_fte=2.0,
    ),
    InitiativeSpec("autocomplete", "Autocomplete", "search", 12, 6, 1.5, 90, planned_fte=1.5),
)

COMPANY_NAMES = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka",
    "Soylent", "Tyrell", "Cyberdyne", "Aperture", "Vandelay", "Gringotts", "Oscorp",
)  # fmt: skip
HISTORY_WEEKS = 52  # how far back the generated history goes
PAST_EPICS = 4  # per team, delivered before the current roadmap
PAST_STORIES = 60

FLOW = ["Backlog", "Selected for Development", "In Progress", "QA", "Done"]


@dataclass
class Organisation:
    now: datetime
    seed: int
    jira_issues: list[dict[str, Any]] = field(default_factory=list)
    zendesk_tickets: list[dict[str, Any]] = field(default_factory=list)
    zendesk_audits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    zendesk_orgs: list[dict[str, Any]] = field(default_factory=list)
    hubspot: dict[str, Any] = field(default_factory=dict)
    roadmap: dict[str, Any] = field(default_factory=dict)

    def issue(self, key: str) -> dict[str, Any]:
        return next(i for i in self.jira_issues if i["key"] == key)


class _Jira:
    """Builds Jira-shaped issues with changelogs, numbering keys per project."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.issues: list[dict[str, Any]] = []
        self.next_number: dict[str, int] = {}
        self.history_id = 100_000

    def add(
        self,
        team: TeamSpec,
        summary: str,
        created: datetime,
        *,
        kind: str = "Story",
        parent: str | None = None,
        walk: list[tuple[str, datetime]] = (),  # type: ignore[assignment]
        labels: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        number = self.next_number.get(team.project, 1)
        self.next_number[team.project] = number + 1
        key = f"{team.project}-{number}"
        histories, current, updated = [], "Backlog", created
        for status, moment in walk:
            self.history_id += 1
            author = self.rng.choice(team.members)
            histories.append(status_history(str(self.history_id), moment, author, current, status))
            current, updated = status, moment
        person = self.rng.choice(team.members)
        issue = {
            "id": str(30_000 + len(self.issues)),
            "key": key,
            "changelog": changelog(histories),
            "fields": {
                "summary": summary,
                "issuetype": {"id": "10001", "name": kind, "subtask": False},
                "project": {
                    "id": str(10_000 + TEAMS.index(team)),
                    "key": team.project,
                    "name": team.name,
                },
                "status": status_field(current),
                "priority": {"name": self.rng.choice(["Medium", "Medium", "High", "Low"])},
                "labels": list(labels),
                "components": [],
                "assignee": {"accountId": person, "displayName": person.title()},
                "created": jira_time(created),
                "updated": jira_time(updated),
                "customfield_10016": self.rng.choice([1, 2, 3, 3, 5, 8])
                if kind != "Epic"
                else None,
                "parent": {"key": parent} if parent else None,
            },
        }
        self.issues.append(issue)
        return issue

    def walk(
        self, started: datetime, finished: datetime | None, now: datetime
    ) -> list[tuple[str, datetime]]:
        """Status changes of an item started (and maybe finished) at these moments."""
        selected = started - timedelta(days=self.rng.uniform(1, 5))
        steps = [("Selected for Development", selected), ("In Progress", started)]
        if finished is not None:
            qa = started + (finished - started) * self.rng.uniform(0.6, 0.85)
            steps += [("QA", qa), ("Done", finished)]
        return [(s, m) for s, m in steps if m <= now]


def _story_times(
    spec: InitiativeSpec, now: datetime, rng: random.Random
) -> list[tuple[datetime | None, datetime | None]]:
    """(started, finished) per story: done at the initiative's pace, then some in progress."""
    if spec.started_weeks_ago is None:
        return [(None, None)] * spec.stories
    begin = now - timedelta(weeks=spec.started_weeks_ago)
    weeks = spec.started_weeks_ago
    done_count = min(spec.stories, int(weeks * spec.done_per_week))
    quiet = timedelta(days=spec.stalled_days)
    last_finish = now - quiet - timedelta(hours=6)
    times: list[tuple[datetime | None, datetime | None]] = []
    span = max((last_finish - begin).total_seconds(), 3600.0)
    for n in range(done_count):
        finished = begin + timedelta(seconds=span * (n + 1) / (done_count + 1))
        finished += timedelta(hours=rng.uniform(-12, 12))
        finished = min(finished, last_finish)
        started = max(begin, finished - timedelta(days=rng.uniform(2, 9)))
        times.append((started, finished))
    remaining = spec.stories - done_count
    for n in range(remaining):
        if n < spec.in_progress:
            started = now - quiet - timedelta(days=rng.uniform(1, 8))
            times.append((max(started, begin), None))
        else:
            times.append((None, None))
    return times


def generate(seed: int = 7, now: datetime | None = None) -> Organisation:
    """The organisation as of ``now`` (default: this hour): same seed and hour, same data."""
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    org = Organisation(now=now, seed=seed)
    jira = _Jira(rng)
    teams = {t.key: t for t in TEAMS}
    epics: dict[str, str] = {}
    stories_by_initiative: dict[str, list[str]] = {}

    for spec in INITIATIVES:
        team = teams[spec.team]
        begin = now - timedelta(weeks=spec.started_weeks_ago or 2)
        epic_walk = []
        if spec.started_weeks_ago is not None:
            epic_walk = [("In Progress", begin)]
        epic = jira.add(team, spec.title, begin - timedelta(days=14), kind="Epic", walk=epic_walk)
        epics[spec.id] = epic["key"]
        keys = []
        committed = (
            now - timedelta(weeks=spec.committed_weeks_ago) if spec.committed_weeks_ago else None
        )
        for n, (started, finished) in enumerate(_story_times(spec, now, rng)):
            created = (started or now) - timedelta(days=rng.uniform(3, 12))
            if committed and created > committed:
                created = committed - timedelta(days=rng.uniform(1, 7))
            story = jira.add(
                team,
                f"{spec.title}: part {n + 1}",
                min(created, begin),
                parent=epic["key"],
                walk=jira.walk(started, finished, now) if started else [],
            )
            keys.append(story["key"])
        for n in range(spec.added_after_commit):  # scope creep, after the commitment
            created = (committed or now) + (now - (committed or now)) * rng.uniform(0.2, 0.95)
            story = jira.add(team, f"{spec.title}: also {n + 1}", created, parent=epic["key"])
            keys.append(story["key"])
        stories_by_initiative[spec.id] = keys

    # Earlier quarters: epics each team delivered before the current roadmap.
    for team in TEAMS:
        for k in range(PAST_EPICS):
            begin = now - timedelta(weeks=HISTORY_WEEKS - k * 8)
            end = begin + timedelta(weeks=7)
            epic = jira.add(
                team,
                f"{team.name} release {k + 1}",
                begin - timedelta(days=10),
                kind="Epic",
                walk=[("In Progress", begin), ("Done", end)],
            )
            for n in range(PAST_STORIES):
                finished = begin + (end - begin) * (n + 1) / (PAST_STORIES + 1)
                started = finished - timedelta(days=rng.uniform(1, 6))
                jira.add(
                    team,
                    f"{team.name} release {k + 1}: part {n + 1}",
                    started - timedelta(days=rng.uniform(2, 10)),
                    parent=epic["key"],
                    walk=jira.walk(started, finished, now),
                )

    # Unplanned work: bugs and chores with no initiative, arriving every week.
    for team in TEAMS:
        weeks = HISTORY_WEEKS
        for week in range(weeks):
            for _ in range(int(team.bugs_per_week + rng.random())):
                created = now - timedelta(weeks=weeks - week) + timedelta(days=rng.uniform(0, 5))
                started = created + timedelta(days=rng.uniform(0.5, 4))
                finished = started + timedelta(days=rng.uniform(1, 4))
                walk = jira.walk(started, finished if finished < now else None, now)
                if started > now:
                    walk = []
                jira.add(team, f"Bug {rng.randint(1000, 9999)}", created, kind="Bug", walk=walk)
    org.jira_issues = jira.issues
    _support(org, rng, stories_by_initiative)
    _crm(org, rng)
    _planted_feedback(org)
    org.roadmap = _roadmap(now, epics)
    return org


def _zendesk_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zendesk_ticket(
    ticket_id: int,
    created: datetime,
    *,
    organisation: dict[str, Any],
    rng: random.Random,
    team: TeamSpec | None,
    solved: datetime | None,
    priority: str = "normal",
    jira_key: str | None = None,
    subject: str = "",
    description: str | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A ticket opened in tier 1, maybe escalated to ``team``'s group, maybe solved; with
    the audits that say so."""
    events: list[tuple[str, str, str | None, datetime]] = [
        ("status", "new", None, created),
        ("group_id", str(TIER1_GROUP), None, created),
    ]
    moment = created + timedelta(hours=rng.uniform(0.5, 6))
    events.append(("status", "open", "new", moment))
    group = TIER1_GROUP
    if team is not None:
        moment += timedelta(hours=rng.uniform(2, 30))
        events.append(("group_id", str(team.group_id), str(TIER1_GROUP), moment))
        group = team.group_id
    status = "open"
    if solved is not None:
        events.append(("status", "solved", "open", solved))
        status, moment = "solved", solved
    audits = []
    for n, (name, value, previous, at) in enumerate(events):
        change: dict[str, Any] = {
            "id": ticket_id * 100 + n,
            "type": "Create" if previous is None else "Change",
            "field_name": name,
            "value": value,
        }
        if previous is not None:
            change["previous_value"] = previous
        audits.append(
            {
                "id": ticket_id * 10 + n,
                "ticket_id": ticket_id,
                "created_at": _zendesk_time(at),
                "author_id": 1,
                "events": [change],
            }
        )
    ticket = {
        "id": ticket_id,
        "url": f"https://demo.zendesk.com/api/v2/tickets/{ticket_id}.json",
        "created_at": _zendesk_time(created),
        "updated_at": _zendesk_time(moment),
        "generated_timestamp": int(moment.timestamp()),
        "type": "incident" if jira_key else "question",
        "subject": subject or f"Customer question {ticket_id}",
        "description": description,
        "priority": priority,
        "status": status,
        "requester_id": 20_000 + ticket_id,
        "assignee_id": 300,
        "group_id": group,
        "organization_id": organisation["id"],
        "tags": [organisation["organization_fields"]["tier"]],
        "custom_fields": [{"id": int(JIRA_FIELD), "value": jira_key}] if jira_key else [],
        "via": {"channel": rng.choice(["web", "email", "chat"])},
    }
    return ticket, audits


def _support(org: Organisation, rng: random.Random, stories: dict[str, list[str]]) -> None:
    now = org.now
    org.zendesk_orgs = [
        {
            "id": 900 + n,
            "name": f"{name} {suffix}",
            "created_at": _zendesk_time(now - timedelta(days=400)),
            "updated_at": _zendesk_time(now - timedelta(days=400)),
            "domain_names": [f"{name.lower()}{n}.example"],
            "organization_fields": {
                "arr": rng.choice([24_000, 60_000, 120_000, 250_000, 480_000]),
                "tier": rng.choice(["enterprise", "growth", "starter"]),
            },
        }
        for n, (name, suffix) in enumerate(
            (a, b)
            for a in COMPANY_NAMES
            for b in (
                "Corp",
                "Labs",
                "GmbH",
                "Inc",
                "Group",
                "AG",
                "Ltd",
                "Systems",
                "Digital",
                "Co",
            )
        )
    ]
    bugs_by_project: dict[str, list[str]] = {}
    for issue in org.jira_issues:
        if issue["fields"]["issuetype"]["name"] == "Bug":
            bugs_by_project.setdefault(issue["fields"]["project"]["key"], []).append(issue["key"])
    counter = [0]
    # The words come from their own generator, so the rest of the organisation (and the
    # drifts planted in it) is the same as before the tickets had any.
    words = random.Random(f"words-{org.seed}")

    def ticket(created: datetime, **kw: Any) -> None:
        counter[0] += 1
        if not kw.get("subject"):
            theme = EVERYDAY[words.choice(sorted(EVERYDAY))]
            kw["subject"], kw["description"] = request_words(words, theme)
        made, audits = zendesk_ticket(
            5000 + counter[0], created, organisation=rng.choice(org.zendesk_orgs), rng=rng, **kw
        )
        org.zendesk_tickets.append(made)
        org.zendesk_audits[made["id"]] = audits

    teams = {t.key: t for t in TEAMS}
    # Everyday support over twelve weeks: most stays in tier 1, some escalates and is solved.
    for _ in range(900):
        created = now - timedelta(days=rng.uniform(2, 84))
        escalate = rng.random() < 0.25
        team = rng.choice(TEAMS) if escalate else None
        if team is not None and team.key == "platform":
            team = teams["payments"]
        solved = created + timedelta(days=rng.uniform(0.2, 6))
        key = None
        if team is not None and bugs_by_project.get(team.project):
            key = rng.choice(bugs_by_project[team.project])
        ticket(created, team=team, solved=solved if solved < now else None, jira_key=key)
    # Platform is buried: escalations pile up and stay open.
    platform = teams["platform"]
    for n in range(36):
        created = now - timedelta(days=rng.uniform(1, 20))
        key = rng.choice(bugs_by_project[platform.project])
        ticket(
            created,
            team=platform,
            solved=None,
            priority=rng.choice(["normal", "high"]),
            jira_key=key,
            subject=f"Integration failing for us ({n + 1})",
        )
    # Urgent demand waiting on Search relevance, which has not started.
    for n in range(6):
        created = now - timedelta(days=rng.uniform(35, 50))
        ticket(
            created,
            team=teams["search"],
            solved=None,
            priority="urgent",
            jira_key=stories["search-relevance"][n],
            subject="Search results are useless",
        )


def _planted_feedback(org: Organisation) -> None:
    """Two themes for product ops to find, on their own generator (nothing else moves):
    large accounts asking for single sign-on, which no roadmap item covers, and a few
    report-export failures that the live activity then makes an emerging theme."""
    rng = random.Random(f"planted-{org.seed}")
    large = [o for o in org.zendesk_orgs if o["organization_fields"]["arr"] >= 250_000]
    planted = [(UNADDRESSED, rng.uniform(3, 60), large) for _ in range(24)]
    planted += [(EMERGING, rng.uniform(10, 40), org.zendesk_orgs) for _ in range(3)]
    for n, (phrasing, days_ago, orgs) in enumerate(planted):
        subject, description = request_words(rng, phrasing)
        created = org.now - timedelta(days=days_ago)
        solved = created + timedelta(days=2) if rng.random() < 0.25 else None
        made, audits = zendesk_ticket(
            7000 + n,
            created,
            organisation=rng.choice(orgs),
            rng=rng,
            team=None,
            solved=solved if solved and solved < org.now else None,
            subject=subject,
            description=description,
        )
        org.zendesk_tickets.append(made)
        org.zendesk_audits[made["id"]] = audits


def _crm(org: Organisation, rng: random.Random) -> None:
    now = org.now
    stages = [s["id"] for s in PIPELINE["stages"]]
    crm: dict[str, Any] = {
        "deals": [],
        "companies": [],
        "history": {},
        "associations": {},
        "archived": [],
        "tickets": [],
    }
    for n, zorg in enumerate(org.zendesk_orgs):
        crm["companies"].append(
            company_record(
                str(7000 + n),
                zorg["name"],
                zorg["domain_names"][0],
                zorg["organization_fields"]["arr"],
                now - timedelta(days=500),
            )
        )
    linked = [i.id for i in INITIATIVES]
    for d in range(300):
        created = now - timedelta(days=rng.uniform(5, 150))
        walked = stages[: rng.randint(1, 3)]
        if walked[-1] == "qualifiedtobuy" and rng.random() < 0.2:
            walked.append("closedlost")
        moments = sorted(created + timedelta(days=rng.uniform(0, 30)) for _ in walked)
        moments = [min(m, now - timedelta(hours=1)) for m in moments]
        deal_id = str(480_000_000_000 + d)
        crm["history"][deal_id] = stage_history(list(zip(walked, moments, strict=True)))
        crm["associations"][deal_id] = [str(7000 + rng.randrange(len(org.zendesk_orgs)))]
        link = rng.choice(linked) if rng.random() < 0.3 else None
        amount = rng.choice([12_000, 30_000, 60_000, 90_000, 150_000])
        crm["deals"].append(
            deal_record(deal_id, f"Deal {d + 1}", amount, walked[-1], created, moments[-1], link)
        )
    org.hubspot = crm


def _roadmap(now: datetime, epics: dict[str, str]) -> dict[str, Any]:
    today = now.date()
    teams = {
        t.key: {
            "name": t.name,
            "members": list(t.members),
            "capacity_fte": round(len(t.members) * 0.8, 1),
            "wip_limit": t.wip_limit,
            "timezone": "Europe/Berlin" if t.key in ("payments", "data") else "America/New_York",
            "cost_rate": t.cost_rate,
            # the mix each team agreed to (the default investment categories)
            "investment_target": {"roadmap": "60%", "bugs": "15%", "maintenance": "15%"},
        }
        for t in TEAMS
    }
    items = []
    for spec in INITIATIVES:
        planned_start = today - timedelta(weeks=spec.started_weeks_ago or -2)
        item: dict[str, Any] = {
            "id": spec.id,
            "title": spec.title,
            "teams": [spec.team],
            "priority": spec.priority,
            "planned_start": planned_start.isoformat(),
            "target_date": (today + timedelta(days=spec.target_in_days)).isoformat(),
            "allocation": {spec.team: spec.planned_fte},
            "links": {"epics": [epics[spec.id]]},
        }
        if spec.committed_weeks_ago:
            item["committed_at"] = (now - timedelta(weeks=spec.committed_weeks_ago)).isoformat()
        if spec.budget:
            item["budget"] = spec.budget
        items.append(item)
    return {"teams": teams, "items": items}


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
