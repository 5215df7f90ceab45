"""Webhook signatures, replay refusal, connector config validation and secret references."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from connectors.config import InvalidConfigError, load_config_file, parse_config, parse_duration
from connectors.webhooks import (
    ReplayGuard,
    WebhookRejected,
    verify_hub_signature_sha1,
    verify_hub_signature_sha256,
    verify_hubspot_v3,
    verify_zendesk,
)
from core.errors import ConfigError
from core.secrets import SecretResolver

BODY = b'{"webhookEvent":"jira:issue_updated"}'


def test_jira_style_sha256_signature() -> None:
    """The right HMAC passes; a forged one or a missing header is refused."""
    good = "sha256=" + hmac.new(b"k", BODY, hashlib.sha256).hexdigest()
    assert verify_hub_signature_sha256("k", {"X-Hub-Signature": good}, BODY) == good
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_hub_signature_sha256("k", {"X-Hub-Signature": "sha256=00"}, BODY)
    with pytest.raises(WebhookRejected, match="missing X-Hub-Signature"):
        verify_hub_signature_sha256("k", {}, BODY)


def test_intercom_sha1_signature() -> None:
    """Intercom signs with HMAC-SHA1; a body changed in transit fails."""
    good = "sha1=" + hmac.new(b"k", BODY, hashlib.sha1).hexdigest()
    verify_hub_signature_sha1("k", {"x-hub-signature": good}, BODY)
    with pytest.raises(WebhookRejected):
        verify_hub_signature_sha1("k", {"X-Hub-Signature": good}, BODY + b" ")


def test_zendesk_signature_and_its_time_window() -> None:
    """Timestamp + body HMAC; a delivery older than five minutes is refused as a replay."""
    stamp = "2026-01-01T00:00:00Z"
    sig = base64.b64encode(hmac.new(b"k", stamp.encode() + BODY, hashlib.sha256).digest()).decode()
    headers = {"X-Zendesk-Webhook-Signature": sig, "X-Zendesk-Webhook-Signature-Timestamp": stamp}
    verify_zendesk("k", headers, BODY, now=1767225600 + 60)
    with pytest.raises(WebhookRejected, match="5-minute window"):
        verify_zendesk("k", headers, BODY, now=1767225600 + 600)


def test_hubspot_v3_signature_covers_method_uri_body_and_time() -> None:
    """HubSpot v3: base64 HMAC of method+URI+body+timestamp; a changed URI fails."""
    stamp = "1767225600000"
    message = b"POST" + b"https://hub.example/webhooks/hs" + BODY + stamp.encode()
    sig = base64.b64encode(hmac.new(b"k", message, hashlib.sha256).digest()).decode()
    headers = {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": stamp}
    verify_hubspot_v3("k", "POST", "https://hub.example/webhooks/hs", headers, BODY, now=1767225660)
    with pytest.raises(WebhookRejected):
        verify_hubspot_v3(
            "k", "POST", "https://hub.example/webhooks/x", headers, BODY, now=1767225660
        )
    with pytest.raises(WebhookRejected, match="window"):
        verify_hubspot_v3(
            "k", "POST", "https://hub.example/webhooks/hs", headers, BODY, now=1767229999
        )


def test_replay_guard_refuses_an_accepted_delivery_but_allows_a_retry_of_a_failed_one() -> None:
    """Only deliveries that were processed count as seen."""
    guard = ReplayGuard(window=600)
    guard.check("a", now=0)
    guard.check("a", now=1)  # not accepted yet: the source may retry
    guard.accepted("a", now=1)
    with pytest.raises(WebhookRejected, match="replay"):
        guard.check("a", now=2)
    guard.check("a", now=700)  # outside the window, forgotten


def test_config_errors_are_reported_per_field() -> None:
    """Every bad field is named at once, including the type's own settings."""
    with pytest.raises(InvalidConfigError) as info:
        parse_config(
            {
                "name": "Bad Name",
                "type": "canonical_http",
                "poll_interval": "soon",
                "settings": {"base_url": "ftp://x", "token": "literal", "extra": 1},
            }
        )
    fields = {p.field for p in info.value.problems}
    assert fields == {
        "name",
        "poll_interval",
        "settings.base_url",
        "settings.token",
        "settings.extra",
    }
    with pytest.raises(InvalidConfigError, match="unknown connector type 'nope'"):
        parse_config({"name": "x", "type": "nope"})


def test_secrets_must_be_references_and_resolve_at_use(tmp_path: Path) -> None:
    """A literal secret is refused; env and file references resolve; a missing one says which."""
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n")
    resolver = SecretResolver({"TOKEN": "from-env"})
    assert resolver.resolve("${env:TOKEN}") == "from-env"
    assert resolver.resolve(f"${{file:{secret_file}}}") == "from-file"
    with pytest.raises(ConfigError, match="environment variable NOPE is not set"):
        resolver.resolve("${env:NOPE}")
    valid = parse_config(
        {
            "name": "x",
            "type": "canonical_http",
            "settings": {"base_url": "http://h", "token": "${env:TOKEN}"},
        }
    )
    assert valid.config.public()["settings"]["token"] == "${env:TOKEN}"


def test_durations_and_config_files(tmp_path: Path) -> None:
    """'90s', '5m', '1h' and plain numbers are durations; a YAML file may list several configs."""
    assert parse_duration("5m").total_seconds() == 300 and parse_duration(90).total_seconds() == 90
    path = tmp_path / "connectors.yaml"
    path.write_text(
        "connectors:\n"
        "  - {name: a, type: canonical_http, poll_interval: 1h,"
        "     settings: {base_url: 'http://a', token: '${env:T}'}}\n"
        "  - {name: a, type: canonical_http,"
        "     settings: {base_url: 'http://b', token: '${env:T}'}}\n"
    )
    with pytest.raises(InvalidConfigError, match="'a' appears twice"):
        load_config_file(path)


def test_the_documented_example_config_is_valid() -> None:
    """connectors.example.yaml, as the README points to it, passes validation."""
    example = Path(__file__).resolve().parents[2] / "connectors.example.yaml"
    assert [v.config.type for v in load_config_file(example)] == [
        "canonical_http",
        "jira",
        "zendesk",
        "intercom",
        "salesforce",
        "hubspot",
    ]
