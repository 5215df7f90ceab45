"""Receiver payloads against their published limits and field lists, and real delivery:
e-mail through a real SMTP server (STARTTLS, AUTH), webhooks through real HTTP."""

from __future__ import annotations

import asyncio
import email
import json
import socket
import ssl
import time
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.config import EmailConfig, SlackConfig, WebhookConfig, parse_alerting
from alerts.delivery import Deliverer, Delivery, DeliveryFailed, send, send_digest
from alerts.digest import digest_slack
from alerts.dispatch import Notification
from alerts.inputs import DriftInputs
from alerts.receivers.slack import LIMITS, slack_message
from alerts.receivers.webhook import V4_ALERT_FIELDS, V4_FIELDS, webhook_payload
from core.secrets import SecretResolver
from emulators.http_server import EmulatorServer, Reply

T0 = "2026-03-04T12:00:00.000000Z"


def alert(n: int = 0, status: str = "firing", summary: str | None = None) -> dict[str, Any]:
    return {
        "fingerprint": f"fp{n:04d}",
        "status": status,
        "labels": {
            "alertname": "ForecastSlip",
            "severity": "warning",
            "team": "payments",
            "roadmap_item": f"r{n}",
        },
        "annotations": {
            "summary": summary or f"Checkout {n}: forecast P85 finish is past its target",
            "description": "P85 finish 2026-05-13, 56 days after target 2026-03-18.",
            "jira_url": f"https://jira.example.com/browse/PAY-{n}",
            "hub_url": f"http://hub.local/api/v1/roadmap/items/r{n}",
        },
        "starts_at": T0,
        "ends_at": "2026-03-04T13:00:00.000000Z" if status == "resolved" else None,
    }


def notification(alerts: list[dict[str, Any]], status: str = "firing") -> Notification:
    firing = [a["fingerprint"] for a in alerts if a["status"] == "firing"]
    resolved = [a["fingerprint"] for a in alerts if a["status"] == "resolved"]
    return Notification(
        id="n1",
        group_key='{}:{alertname="ForecastSlip", team="payments"}',
        receiver="product",
        integration="slack[0]",
        status=status,
        group_labels={"alertname": "ForecastSlip", "team": "payments"},
        alerts=alerts,
        firing=firing,
        resolved=resolved,
        created_at=T0,
    )


def walk_texts(blocks: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Every (block type, text length) pair, to check against Slack's limits."""
    found = []
    for block in blocks:
        if "text" in block:
            found.append((block["type"], len(block["text"]["text"])))
        for f in block.get("fields", []):
            found.append(("field", len(f["text"])))
        for element in block.get("elements", []):
            if element.get("type") == "button":
                found.append(("button", len(element["text"]["text"])))
                found.append(("url", len(element["url"])))
            else:
                found.append(("context", len(element["text"])))
    return found


def test_slack_messages_stay_inside_block_kit_limits() -> None:
    """Slack messages keep every block and text within Block Kit's documented limits."""
    long = "x" * 400
    many = [alert(n, summary=long if n == 0 else None) for n in range(30)]
    message = slack_message(notification(many))
    blocks = message["blocks"]
    assert len(blocks) <= LIMITS["blocks"]
    limits = {
        "header": LIMITS["header"],
        "section": LIMITS["section_text"],
        "field": LIMITS["field_text"],
        "button": LIMITS["button_text"],
        "url": LIMITS["url"],
        "context": LIMITS["section_text"],
    }
    for kind, length in walk_texts(blocks):
        assert length <= limits[kind], kind
    assert all(len(b.get("fields", [])) <= LIMITS["fields"] for b in blocks)
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"].startswith("[FIRING:30]")
    assert "more alerts not shown" in blocks[-1]["elements"][0]["text"]
    assert message["text"].startswith("[FIRING:30] ForecastSlip payments")  # the fallback
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["url"] == "https://jira.example.com/browse/PAY-0"


def test_slack_resolved_message() -> None:
    """A resolved Slack message says RESOLVED in its header and shows the resolved mark."""
    message = slack_message(notification([alert(status="resolved")], status="resolved"))
    assert message["blocks"][0]["text"]["text"] == "[RESOLVED:1] ForecastSlip payments"
    assert ":white_check_mark:" in message["blocks"][1]["text"]["text"]


def test_webhook_payload_has_exactly_alertmanagers_v4_fields() -> None:
    """The webhook payload has exactly Alertmanager's v4 fields with common labels and annotations."""
    body = webhook_payload(
        notification([alert(0), alert(1, status="resolved")]), "http://hub.local/"
    )
    assert tuple(body) == V4_FIELDS
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["commonLabels"] == {
        "alertname": "ForecastSlip",
        "severity": "warning",
        "team": "payments",
    }
    assert body["externalURL"] == "http://hub.local"
    firing, resolved = body["alerts"]
    assert all(tuple(a) == V4_ALERT_FIELDS for a in body["alerts"])
    assert firing["endsAt"] == "0001-01-01T00:00:00Z"  # Alertmanager's "not ended"
    assert resolved["endsAt"] == "2026-03-04T13:00:00.000000Z"
    assert firing["generatorURL"] == "http://hub.local/api/v1/alerts/fp0000"
    truncated = webhook_payload(notification([alert(n) for n in range(5)]), "x", max_alerts=2)
    assert truncated["truncatedAlerts"] == 3 and len(truncated["alerts"]) == 2


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"hub" and data.password == b"s3cret!"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Any:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        config = EmailConfig.model_validate(
            {
                "to": ["pm@example.com"],
                "from": "hub@example.com",
                "smarthost": f"localhost:{port}",
                "username": "hub",
                "password": "${env:SMTP_PASSWORD}",
                "ca_file": str(ca_file),
            }
        )
        yield inbox, config
    finally:
        controller.stop()


def test_email_goes_out_over_starttls_with_auth_in_text_and_html(smtp_server: Any) -> None:
    """E-mail is sent over STARTTLS with AUTH as a text and HTML alternative, the password resolved
    from its reference.
    """
    inbox, config = smtp_server
    secrets = SecretResolver({"SMTP_PASSWORD": "s3cret!"})
    send(config, notification([alert(0)]), secrets, "http://hub.local", timeout=10)
    (message,) = inbox.messages
    assert message["Subject"] == "[FIRING:1] ForecastSlip payments"
    kinds = [part.get_content_type() for part in message.walk()]
    assert kinds == ["multipart/alternative", "text/plain", "text/html"]
    text = message.get_payload()[0].get_payload(decode=True).decode()
    assert "P85 finish 2026-05-13" in text and "https://jira.example.com/browse/PAY-0" in text

    wrong = SecretResolver({"SMTP_PASSWORD": "guess"})
    with pytest.raises(DeliveryFailed) as caught:
        send(config, notification([alert(0)]), wrong, "http://hub.local", timeout=10)
    assert caught.value.permanent and "guess" not in str(caught.value)

    unverified = config.model_copy(update={"ca_file": None})
    with pytest.raises(DeliveryFailed, match="TLS"):
        send(unverified, notification([alert(0)]), secrets, "http://hub.local", timeout=10)


def _delivery(url: str, n: Notification, integration: WebhookConfig, key: str = "g") -> Delivery:
    return Delivery(
        id=n.id,
        kind="notification",
        receiver="product",
        integration=f"webhook[{key}]",
        key=key,
        attempt=lambda: send(integration, n, SecretResolver({}), "http://hub.local", 5),
    )


def test_a_receiver_down_then_back_gets_the_notification_once() -> None:
    """A receiver answering 503 gets the notification exactly once after it comes back, with
    backoff in between.
    """
    config = parse_alerting({"delivery": {"backoff_initial": "50ms", "backoff_max": "200ms"}})
    up_after = time.monotonic() + 1.0
    received: list[Any] = []

    def handler(request: Any) -> Reply:
        if time.monotonic() < up_after:
            return Reply(503, {"error": "down for maintenance"})
        received.append(request.json())
        return Reply(200, {})

    async def run(url: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []

        async def on_result(_: Delivery, record: dict[str, Any]) -> None:
            results.append(record)

        deliverer = Deliverer(config, on_result)
        hook = WebhookConfig(url=url + "/hook")
        deliverer.submit(_delivery(url, notification([alert(0)]), hook))
        while not results or results[-1]["status"] == "retrying":
            await asyncio.sleep(0.05)
        assert deliverer.in_flight == set()
        await deliverer.close()
        return results

    with EmulatorServer({("POST", "/hook"): handler}) as server:
        results = asyncio.run(run(server.url))
    assert len(received) == 1 and received[0]["version"] == "4"
    assert results[-1]["status"] == "delivered" and results[-1]["attempts"] > 1
    assert results[0]["last_error"].startswith("HTTP 503")


def test_a_slow_receiver_does_not_hold_up_another() -> None:
    """One slow receiver does not delay delivery to another."""
    config = parse_alerting({"delivery": {"timeout": "5s"}})
    arrivals: dict[str, float] = {}

    def slow(request: Any) -> Reply:
        time.sleep(2)
        arrivals["slow"] = time.monotonic()
        return Reply(200, {})

    def fast(request: Any) -> Reply:
        arrivals["fast"] = time.monotonic()
        return Reply(200, {})

    async def run(url: str) -> None:
        done: list[str] = []

        async def on_result(d: Delivery, record: dict[str, Any]) -> None:
            done.append(d.integration)

        deliverer = Deliverer(config, on_result)
        n = notification([alert(0)])
        deliverer.submit(_delivery(url, n, WebhookConfig(url=url + "/slow"), "slow"))
        deliverer.submit(_delivery(url, n, WebhookConfig(url=url + "/fast"), "fast"))
        while len(done) < 2:
            await asyncio.sleep(0.05)
        await deliverer.close()

    with EmulatorServer({("POST", "/slow"): slow, ("POST", "/fast"): fast}) as server:
        asyncio.run(run(server.url))
    assert arrivals["fast"] < arrivals["slow"] - 1


def test_a_bad_request_is_not_retried_and_secrets_stay_out_of_errors() -> None:
    """A 400 from a receiver is not retried and its error text carries no secret from the URL or
    token.
    """
    hook = WebhookConfig(url="${env:HOOK_URL}", bearer_token="${env:HOOK_TOKEN}")
    seen: list[Any] = []

    def handler(request: Any) -> Reply:
        seen.append(request.headers.get("Authorization"))
        return Reply(400, {"error": "bad payload"})

    with EmulatorServer({("POST", "/h/tok-in-path"): handler}) as server:
        secrets = SecretResolver({"HOOK_URL": server.url + "/h/tok-in-path", "HOOK_TOKEN": "t0k"})
        with pytest.raises(DeliveryFailed) as caught:
            send(hook, notification([alert(0)]), secrets, "x", 5)
    assert caught.value.permanent and seen == ["Bearer t0k"]
    refused = SecretResolver({"HOOK_URL": "http://127.0.0.1:9/h/tok-in-path", "HOOK_TOKEN": "t0k"})
    with pytest.raises(DeliveryFailed) as caught:
        send(hook, notification([alert(0)]), refused, "x", 2)
    assert "tok-in-path" not in str(caught.value) and not caught.value.permanent


def test_slack_posts_block_kit_to_the_webhook_url_it_resolves() -> None:
    """Slack delivery posts Block Kit JSON to the webhook URL resolved from its secret reference."""
    got: list[Any] = []
    with EmulatorServer(
        {("POST", "/services/T0/B0/x"): lambda r: got.append(r.json()) or Reply(200, {})}
    ) as server:
        secrets = SecretResolver({"SLACK_URL": server.url + "/services/T0/B0/x"})
        config = SlackConfig(url="${env:SLACK_URL}", channel="#product-ops")
        send(config, notification([alert(0)]), secrets, "http://hub.local", timeout=5)
    (message,) = got
    assert message["channel"] == "#product-ops" and message["blocks"][0]["type"] == "header"
    assert message["text"].startswith("[FIRING:1]")


DIGEST = {
    "name": "weekly",
    "team": None,
    "from": "2026-02-25T12:00:00.000000Z",
    "to": "2026-03-04T12:00:00.000000Z",
    "summary": {"on_track": 1, "at_risk": 0, "off_track": 1},
    "initiatives": [
        {
            "id": "late",
            "title": "Late",
            "teams": ["core"],
            "stage": "planned",
            "status": "off_track",
            "reasons": ["Late: 12 days past its target date"],
            "progress": 0.0,
            "items_done": 0,
            "items_total": 1,
            "target_date": "2026-02-20",
        }
    ],
    "allocation": [],
    "alerts_opened": [],
    "alerts_resolved": [],
}


def test_digests_go_out_as_webhook_json_and_as_email(smtp_server: Any) -> None:
    """Digests are delivered as webhook JSON and as an e-mail."""
    got: list[Any] = []
    with EmulatorServer(
        {("POST", "/d"): lambda r: got.append(r.json()) or Reply(200, {})}
    ) as server:
        send_digest(WebhookConfig(url=server.url + "/d"), DIGEST, SecretResolver({}), 5)
    assert got[0]["version"] == "digest/1" and got[0]["initiatives"][0]["status"] == "off_track"

    inbox, config = smtp_server
    leads = config.model_copy(update={"to": ["leads@example.com"]})
    send_digest(leads, DIGEST, SecretResolver({"SMTP_PASSWORD": "s3cret!"}), 10)
    (message,) = inbox.messages
    subject = " ".join(message["Subject"].split())  # long subjects are folded
    assert subject.startswith("Roadmap digest, all teams, 2026-03-04: 1 on track")
    html = message.get_payload()[1].get_payload(decode=True).decode()
    assert "off track" in html and "12 days past its target date" in html


def test_slack_escapes_mrkdwn_and_slack_sdk_accepts_every_block() -> None:
    """&, < and > from labels, text and the group key are escaped; slack_sdk validates each block."""
    from slack_sdk.models.blocks import Block

    risky = alert(0, summary="R&D <x> is <!here> late")
    risky["labels"]["team"] = "R&D <x>"
    risky["annotations"]["description"] = "a <https://evil.example|link> & more"
    note = notification([risky])
    note = Notification(**{**note.__dict__, "group_key": '{}:{team="R&D <x>"}'})
    message = slack_message(note)
    texts = json.dumps(message["blocks"])
    assert "<!here>" not in texts and "<https://evil" not in texts and "R&D <x>" not in texts
    assert "R&amp;D &lt;x&gt;" in texts
    for block in message["blocks"]:
        Block.parse(block).validate_json()  # raises on anything Slack would refuse
    for block in digest_slack(DIGEST)["blocks"]:
        Block.parse(block).validate_json()


def test_team_and_item_links_are_url_encoded() -> None:
    """A team or item id with spaces or slashes becomes one path segment in the hub link."""
    from alerts.rules.registry import item_links, team_links

    inputs = DriftInputs(
        {}, _NoIndex(), datetime(2026, 3, 4, tzinfo=UTC), "http://hub", {}, {}, {}, {}, {}
    )
    assert team_links(inputs, "R&D / core")["hub_url"].endswith(
        "/teams/R%26D%20%2F%20core/resources"
    )
    assert item_links(inputs, "a/b c")["hub_url"].endswith("/roadmap/items/a%2Fb%20c")


class _NoIndex:
    """An empty work-item index: the links read none of it."""

    def __init__(self) -> None:
        self.stable: dict[str, Any] = {}
        self.children: dict[str, Any] = {}
