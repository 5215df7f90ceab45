"""Slack incoming-webhook messages in Block Kit, kept inside Slack's documented limits.

Limits (Block Kit reference): 50 blocks a message; header text 150 characters; section
text 3,000; at most 10 section fields of 2,000 each; button text 75 and URL 3,000;
context at most 10 elements. A plain ``text`` fallback is what notifications and
screen readers show.
"""

from __future__ import annotations

from typing import Any

from alerts.dispatch import Notification
from alerts.receivers.common import title

__all__ = ["slack_message", "escape", "LIMITS"]

LIMITS = {
    "blocks": 50,
    "header": 150,
    "section_text": 3000,
    "fields": 10,
    "field_text": 2000,
    "button_text": 75,
    "url": 3000,
    "context_elements": 10,
    "text": 4000,
}
_ALERT_BLOCKS = 4  # section + fields + actions + divider per alert
_EMOJI = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": True}


def escape(text: str) -> str:
    """Slack's three control characters in mrkdwn, escaped as Slack asks: a team named
    ``R&D <x>`` must read as text, not open a link or break the message."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown(text: str, limit: int) -> dict[str, Any]:
    """``text`` is already mrkdwn: every value from outside went through ``escape``."""
    return {"type": "mrkdwn", "text": _cut(text, limit)}


def _alert_blocks(alert: dict[str, Any]) -> list[dict[str, Any]]:
    labels, notes = alert["labels"], alert["annotations"]
    mark = _EMOJI["resolved" if alert["status"] == "resolved" else "firing"]
    heading = escape(notes.get("summary") or labels.get("alertname") or "")
    text = f"{mark} *{heading}*\n{escape(notes.get('description', ''))}"
    fields = [
        _markdown(f"*{name}*\n{escape(labels[name])}", LIMITS["field_text"])
        for name in ("alertname", "severity", "team", "roadmap_item")
        if labels.get(name)
    ]
    fields.append(_markdown(f"*status*\n{alert['status']}", LIMITS["field_text"]))
    buttons = [
        {
            "type": "button",
            "text": _plain(label, LIMITS["button_text"]),
            "url": notes[key],
        }
        for key, label in (("jira_url", "Open in Jira"), ("hub_url", "Open in the hub"))
        if notes.get(key) and len(notes[key]) <= LIMITS["url"]
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _markdown(text, LIMITS["section_text"])},
        {"type": "section", "fields": fields[: LIMITS["fields"]]},
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    blocks.append({"type": "divider"})
    return blocks


def slack_message(notification: Notification, channel: str | None = None) -> dict[str, Any]:
    heading = title(notification)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(heading, LIMITS["header"])}]
    room = (LIMITS["blocks"] - 2) // _ALERT_BLOCKS
    shown = notification.alerts[:room]
    for alert in shown:
        blocks.extend(_alert_blocks(alert))
    hidden = len(notification.alerts) - len(shown)
    footer = f"Product Ops Hub · group {escape(notification.group_key)}"
    if hidden:
        footer = f"{hidden} more alerts not shown · " + footer
    blocks.append({"type": "context", "elements": [_markdown(footer, LIMITS["section_text"])]})
    lines = [heading] + [
        f"- {a['status']}: {a['annotations'].get('summary') or a['labels'].get('alertname')}"
        for a in notification.alerts
    ]
    message: dict[str, Any] = {"text": _cut("\n".join(lines), LIMITS["text"]), "blocks": blocks}
    if channel:
        message["channel"] = channel
    return message
