"""Alert e-mails: one message per notification, a plain-text and an HTML part."""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from alerts.dispatch import Notification
from alerts.receivers.common import title

__all__ = ["email_message", "html_page", "mail"]


def _text(notification: Notification, external_url: str) -> str:
    lines = [title(notification), ""]
    for alert in notification.alerts:
        notes = alert["annotations"]
        lines.append(f"[{alert['status'].upper()}] {notes.get('summary', '')}")
        lines.append(f"  {notes.get('description', '')}")
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        lines.append(f"  labels: {labels}")
        for key in ("jira_url", "hub_url"):
            if notes.get(key):
                lines.append(f"  {key.split('_')[0]}: {notes[key]}")
        lines.append("")
    lines.append(f"Alerts: {external_url.rstrip('/')}/api/v1/alerts")
    return "\n".join(lines)


def html_page(heading: str, sections: list[tuple[str, str]], footer: str) -> str:
    """A minimal, inline-styled HTML mail: mail clients ignore style sheets."""
    body = "".join(
        f'<h3 style="margin:16px 0 4px">{html.escape(h)}</h3><div>{content}</div>'
        for h, content in sections
    )
    return (
        '<html><body style="font-family:sans-serif;font-size:14px">'
        f"<h2>{html.escape(heading)}</h2>{body}"
        f'<p style="color:#777">{footer}</p></body></html>'
    )


def _html(notification: Notification, external_url: str) -> str:
    sections = []
    for alert in notification.alerts:
        notes = alert["annotations"]
        color = "#2e7d32" if alert["status"] == "resolved" else "#c62828"
        links = " · ".join(
            f'<a href="{html.escape(notes[k])}">{label}</a>'
            for k, label in (("jira_url", "Jira"), ("hub_url", "Hub"))
            if notes.get(k)
        )
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        sections.append(
            (
                f"[{alert['status'].upper()}] {notes.get('summary', '')}",
                f'<p style="color:{color}">{html.escape(notes.get("description", ""))}</p>'
                f"<p><small>{html.escape(labels)}</small></p><p>{links}</p>",
            )
        )
    base = html.escape(external_url.rstrip("/"))
    return html_page(
        title(notification), sections, f'<a href="{base}/api/v1/alerts">All alerts</a>'
    )


def mail(subject: str, sender: str, to: list[str], text: str, html_body: str) -> EmailMessage:
    """One message with a plain-text and an HTML part: alerts and digests alike."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="product-ops-hub")
    message.set_content(text)
    message.add_alternative(html_body, subtype="html")
    return message


def email_message(
    notification: Notification, sender: str, to: list[str], external_url: str
) -> EmailMessage:
    return mail(
        title(notification),
        sender,
        to,
        _text(notification, external_url),
        _html(notification, external_url),
    )
