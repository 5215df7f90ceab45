"""Scheduled digests: the written status update product ops assembles before every sync.

Per initiative: on track, at risk or off track, with the reason (the alerts behind it);
allocation against plan per team; alerts opened and resolved in the period. One dict,
rendered as text, HTML, Slack blocks or JSON by the receiver it goes to.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.config import DigestSchedule
from alerts.engine import FIRING, RECOVERING
from alerts.inputs import DriftInputs, planned_fte
from alerts.receivers.email import html_page
from alerts.receivers.slack import escape
from core.events import iso, parse_utc
from core.stages import OPEN_ROADMAP_STAGES

__all__ = [
    "due_digests",
    "build_digest",
    "digest_text",
    "digest_html",
    "digest_slack",
    "next_due",
    "period_of",
]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANK = {"on_track": 0, "at_risk": 1, "off_track": 2}


def period_of(schedule: DigestSchedule) -> timedelta:
    return timedelta(days=1) if schedule.schedule == "daily" else timedelta(weeks=1)


def next_due(schedule: DigestSchedule, after: datetime) -> datetime:
    """The first scheduled moment strictly after ``after``, in the schedule's time zone."""
    zone = ZoneInfo(schedule.timezone)
    local = after.astimezone(zone)
    hour, minute = (int(x) for x in schedule.at.split(":"))
    day = local.date()
    for offset in range(0, 9):
        candidate_day = day + timedelta(days=offset)
        if schedule.schedule == "weekly" and _WEEKDAYS[candidate_day.weekday()] != schedule.weekday:
            continue
        candidate = datetime.combine(candidate_day, time(hour, minute), tzinfo=zone)
        if candidate > local:
            return candidate.astimezone(after.tzinfo)
    raise AssertionError("a weekly schedule recurs within 8 days")  # pragma: no cover


def due_digests(
    schedules: list[DigestSchedule],
    sent: Mapping[str, Mapping[str, str]],
    integrations: Mapping[str, list[str]],
    now: datetime,
) -> list[tuple[DigestSchedule, str, datetime]]:
    """(schedule, integration, due moment) for every digest send that is due now.

    ``sent`` is digest name -> integration -> the due moment last sent (ISO). A schedule
    never seen before is not due: it starts counting from its first sighting, so adding
    one does not send a backlog.
    """
    due = []
    for schedule in schedules:
        record = sent.get(schedule.name)
        if record is None:
            continue
        for name in integrations.get(schedule.receiver, []):
            last = record.get(name)
            if last is None:
                continue
            moment = next_due(schedule, parse_utc(last))
            if moment <= now:
                due.append((schedule, name, moment))
    return due


def _item_status(item_alerts: list[Mapping[str, Any]]) -> tuple[str, list[str]]:
    status = "on_track"
    for alert in item_alerts:
        level = "off_track" if alert["labels"].get("severity") == "critical" else "at_risk"
        if _RANK[level] > _RANK[status]:
            status = level
    ordered = sorted(
        item_alerts,
        key=lambda a: (a["labels"].get("severity") != "critical", a["labels"]["alertname"]),
    )
    reasons = [a["annotations"].get("summary", a["labels"]["alertname"]) for a in ordered]
    return status, reasons


def build_digest(
    inputs: DriftInputs,
    alerts: Mapping[str, Mapping[str, Any]],
    since: datetime,
    *,
    team: str | None = None,
    name: str = "digest",
) -> dict[str, Any]:
    now = inputs.now
    firing = [a for a in alerts.values() if a["state"] in (FIRING, RECOVERING)]
    initiatives = []
    for key, view in sorted(inputs.items.items()):
        if team and team not in view["teams"]:
            continue
        finished_lately = view["finished_at"] and view["finished_at"] >= iso(since)
        if view["stage"] not in OPEN_ROADMAP_STAGES and not finished_lately:
            continue
        status, reasons = _item_status(
            [a for a in firing if a["labels"].get("roadmap_item") == key]
        )
        initiatives.append(
            {
                "id": key,
                "title": view["title"],
                "teams": view["teams"],
                "stage": view["stage"],
                "status": status,
                "reasons": reasons,
                "progress": view["progress"]["by_count"],
                "items_done": view["progress"]["items_done"],
                "items_total": view["progress"]["items_total"],
                "target_date": view["target_date"],
            }
        )
    allocation = []
    for name_, rows in sorted(inputs.weeks.items()):
        if (team and name_ != team) or not rows:
            continue
        row = rows[-1]
        moment = now
        planned = {
            key: fte
            for key, plan in inputs.plans.items()
            if (fte := planned_fte(plan, name_, moment)) is not None
        }
        team_alerts = [
            a
            for a in firing
            if a["labels"].get("team") == name_ and "roadmap_item" not in a["labels"]
        ]
        allocation.append(
            {
                "team": name_,
                "week": row["week"],
                "capacity_fte": row["capacity_fte"],
                "effort_fte": row["effort_fte"],
                "unplanned_share": row["unplanned_share"],
                "by_initiative": {
                    key: {
                        "planned_fte": planned.get(key),
                        "actual_fte": row["effort_by_initiative_fte"].get(key, 0.0),
                    }
                    for key in sorted(set(planned) | set(row["effort_by_initiative_fte"]))
                },
                "alerts": [a["annotations"].get("summary") for a in team_alerts],
            }
        )

    def in_scope(alert: Mapping[str, Any]) -> bool:
        return team is None or alert["labels"].get("team") == team

    start = iso(since)
    opened = [a for a in alerts.values() if a.get("starts_at") and a["starts_at"] >= start]
    resolved = [
        a
        for a in alerts.values()
        if a["state"] == "resolved" and a.get("starts_at") and a.get("ends_at", "") >= start
    ]
    counts = {s: sum(1 for i in initiatives if i["status"] == s) for s in _RANK}
    delivery = [
        _delivery(name_, inputs)
        for name_ in sorted(set(inputs.sprints) | set(inputs.investment))
        if team is None or name_ == team
    ]
    themes = [t for t in inputs.themes if t["id"] != "unclassified"] if team is None else []
    return {
        "name": name,
        "team": team,
        "from": iso(since),
        "to": iso(now),
        "summary": counts,
        "initiatives": sorted(initiatives, key=lambda i: (-_RANK[i["status"]], i["id"])),
        "allocation": allocation,
        # how each team plans and where its effort goes: last sprints and the week's mix
        "delivery": [d for d in delivery if d["sprints"] or d["investment"]],
        "alerts_opened": [_brief(a) for a in opened if in_scope(a)],
        "alerts_resolved": [_brief(a) for a in resolved if in_scope(a)],
        # what customers ask for: the top themes by ARR, and those new in the period
        "themes": [_theme(t) for t in sorted(themes, key=_by_arr)[:TOP_THEMES]],
        "themes_new": [_theme(t) for t in sorted(themes, key=_by_arr) if _new(t, start)],
    }


TOP_THEMES = 5
LAST_SPRINTS = 3


def _delivery(team: str, inputs: DriftInputs) -> dict[str, Any]:
    """A team's last closed sprints' planning accuracy, and its last full week's mix."""
    closed = [r for r in inputs.sprints.get(team, []) if r["state"] == "closed" and r["numbers"]]
    weeks = inputs.investment.get(team) or []
    last = weeks[-1] if weeks and weeks[-1]["effort_fte"] else None
    return {
        "team": team,
        "sprints": [
            {
                "name": r["name"] or r["key"],
                "planning_accuracy": r["numbers"]["planning_accuracy"],
                "velocity_points": r["numbers"]["velocity_points"],
            }
            for r in closed[-LAST_SPRINTS:]
        ],
        "week": last["week"] if last else None,
        "investment": [
            {"category": c["category"], "share": c["share"], "target_share": c["target_share"]}
            for c in (last["categories"] if last else [])
            if c["share"] or c["target_share"] is not None
        ],
    }


def _delivery_lines(team: Mapping[str, Any]) -> list[str]:
    lines = []
    if team["sprints"]:
        sprints = ", ".join(
            f"{s['name']} {_share(s['planning_accuracy'])}" for s in team["sprints"]
        )
        lines.append(f"- {team['team']} planning accuracy: {sprints}")
    if team["investment"]:
        mix = ", ".join(
            f"{c['category']} {_share(c['share'])}"
            + (f" (target {_share(c['target_share'])})" if c["target_share"] is not None else "")
            for c in team["investment"]
        )
        lines.append(f"- {team['team']} investment {team['week']}: {mix}")
    return lines


def _by_arr(theme: Mapping[str, Any]) -> tuple[float, int, str]:
    return (-theme["arr"], -theme["requests"], theme["id"])


def _new(theme: Mapping[str, Any], since: str) -> bool:
    first = theme.get("first_seen")
    return first is not None and parse_utc(first) >= parse_utc(since)


def _theme(theme: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("id", "name", "requests", "open", "arr", "last_7_days", "growth", "unaddressed")
    return {k: theme[k] for k in keep}


def _theme_line(theme: Mapping[str, Any]) -> str:
    growth = f"{theme['growth']:+d}" if theme["growth"] else "±0"
    return (
        f"- {theme['name']}: {theme['requests']} requests ({theme['open']} open), "
        f"{theme['arr']:,.0f} ARR, {theme['last_7_days']} this week ({growth})"
        + ("; on no roadmap item" if theme["unaddressed"] else "")
    )


def _brief(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "fingerprint": alert["fingerprint"],
        "alertname": alert["labels"]["alertname"],
        "team": alert["labels"].get("team"),
        "roadmap_item": alert["labels"].get("roadmap_item"),
        "summary": alert["annotations"].get("summary"),
        "starts_at": alert.get("starts_at"),
        "ends_at": alert.get("ends_at"),
    }


def _title(digest: Mapping[str, Any]) -> str:
    scope = f"team {digest['team']}" if digest["team"] else "all teams"
    day = parse_utc(digest["to"]).date()
    counts = digest["summary"]
    return (
        f"Roadmap digest, {scope}, {day}: {counts['on_track']} on track, "
        f"{counts['at_risk']} at risk, {counts['off_track']} off track"
    )


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def digest_text(digest: Mapping[str, Any]) -> str:
    lines = [_title(digest), "", "Initiatives"]
    for item in digest["initiatives"]:
        lines.append(
            f"- {item['status'].replace('_', ' ').upper():9} {item['title'] or item['id']} "
            f"({item['items_done']}/{item['items_total']} done, "
            f"target {item['target_date'] or '-'})"
        )
        lines.extend(f"    {reason}" for reason in item["reasons"])
    lines += ["", "Allocation vs plan (last full week)"]
    for team in digest["allocation"]:
        lines.append(
            f"- {team['team']} {team['week']}: {team['effort_fte']:.1f} FTE of "
            f"{team['capacity_fte'] or '-'}; unplanned {_share(team['unplanned_share'])}"
        )
        for key, shares in team["by_initiative"].items():
            planned = shares["planned_fte"]
            lines.append(
                f"    {key}: {shares['actual_fte']:.1f} FTE"
                + (f" (planned {planned:g})" if planned is not None else " (unplanned)")
            )
    if digest.get("delivery"):
        lines += ["", "Delivery: planning accuracy (last sprints) and investment mix"]
        for team in digest["delivery"]:
            lines.extend(_delivery_lines(team))
    lines += ["", f"Alerts opened: {len(digest['alerts_opened'])}"]
    lines.extend(f"- {a['summary']}" for a in digest["alerts_opened"])
    lines += [f"Alerts resolved: {len(digest['alerts_resolved'])}"]
    lines.extend(f"- {a['summary']}" for a in digest["alerts_resolved"])
    if digest.get("themes"):
        lines += ["", "What customers ask for (top themes by ARR)"]
        lines.extend(_theme_line(t) for t in digest["themes"])
    if digest.get("themes_new"):
        lines += [f"New themes this period: {len(digest['themes_new'])}"]
        lines.extend(_theme_line(t) for t in digest["themes_new"])
    return "\n".join(lines)


def digest_html(digest: Mapping[str, Any]) -> str:
    colors = {"on_track": "#2e7d32", "at_risk": "#ef6c00", "off_track": "#c62828"}
    rows = "".join(
        f'<tr><td style="color:{colors[i["status"]]}">{i["status"].replace("_", " ")}</td>'
        f"<td>{html.escape(i['title'] or i['id'])}</td><td>{i['items_done']}/{i['items_total']}"
        f"</td><td>{i['target_date'] or '-'}</td>"
        f"<td>{'<br>'.join(html.escape(r) for r in i['reasons'])}</td></tr>"
        for i in digest["initiatives"]
    )
    initiatives = (
        "<table cellpadding=4><tr><th>Status</th><th>Initiative</th><th>Done</th><th>Target</th>"
        f"<th>Why</th></tr>{rows}</table>"
    )
    teams = "".join(
        f"<li>{html.escape(t['team'])} {t['week']}: {t['effort_fte']:.1f} FTE, unplanned "
        f"{_share(t['unplanned_share'])}</li>"
        for t in digest["allocation"]
    )
    alerts = "".join(
        f"<li>opened: {html.escape(a['summary'] or '')}</li>" for a in digest["alerts_opened"]
    ) + "".join(
        f"<li>resolved: {html.escape(a['summary'] or '')}</li>" for a in digest["alerts_resolved"]
    )
    themes = "".join(
        f"<li>{html.escape(_theme_line(t)[2:])}</li>"
        for t in [*digest.get("themes", []), *digest.get("themes_new", [])]
    )
    delivery = "".join(
        f"<li>{html.escape(line[2:])}</li>"
        for team in digest.get("delivery", [])
        for line in _delivery_lines(team)
    )
    sections = [
        ("Initiatives", initiatives),
        ("Allocation", f"<ul>{teams}</ul>"),
    ]
    if delivery:
        sections.append(("Delivery", f"<ul>{delivery}</ul>"))
    sections.append(("Alerts", f"<ul>{alerts}</ul>"))
    if themes:
        sections.append(("What customers ask for", f"<ul>{themes}</ul>"))
    return html_page(
        _title(digest),
        sections,
        "Product Ops Hub digest",
    )


def digest_slack(digest: Mapping[str, Any]) -> dict[str, Any]:
    from alerts.receivers.slack import LIMITS

    text = digest_text(digest)
    lines = [escape(line) for line in text.split("\n")]  # mrkdwn: team names are text
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _title(digest)[: LIMITS["header"]]},
        }
    ]
    chunk: list[str] = []
    for line in lines[2:]:
        if sum(len(x) + 1 for x in chunk) + len(line) > LIMITS["section_text"] - 10:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    return {"text": text[: LIMITS["text"]], "blocks": blocks[: LIMITS["blocks"]]}
