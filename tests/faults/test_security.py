"""Security: every /api route wants the token; forged and replayed webhooks are refused
for every source that sends them; configured secrets never show up anywhere — logs,
topics, API answers, dead letters — even when syncs fail."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from core.topics import list_topics, read_topic
from emulators.canonical_source import CanonicalSource
from emulators.hubspot import HubSpotEmulator, generate_crm
from emulators.intercom import IntercomEmulator
from emulators.jira import JiraEmulator, generate_project
from emulators.zendesk import ZendeskEmulator
from hub.api.routes import openapi_document
from tests.faults.harness import Hub
from tests.helpers import HubProcess, own_broker

pytestmark = pytest.mark.broker


def test_every_api_route_refuses_a_missing_or_wrong_token(tmp_path: Path) -> None:
    """Every documented operation that is not public answers 401 without the right token."""
    with own_broker() as broker:
        with Hub(broker.bootstrap_servers, tmp_path) as hub:
            worker = hub.start_worker()
            worker.wait_healthy()
            checked = 0
            for path, item in openapi_document()["paths"].items():
                url = worker.url + "/".join(
                    "x" if part.startswith("{") else part for part in path.split("/")
                )
                for method, operation in item.items():
                    if operation.get("security") == []:
                        continue  # public: /health, /metrics, signed webhooks
                    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}):
                        response = requests.request(method, url, headers=headers, timeout=10)
                        assert response.status_code == 401, (method, path, headers)
                        assert response.json()["error"]["code"] == "unauthorized"
                        assert response.headers["WWW-Authenticate"].startswith("Bearer")
                        checked += 1
            assert checked > 60


def _put(worker: HubProcess, name: str, config: dict[str, Any]) -> None:
    response = requests.put(
        f"{worker.url}/api/v1/connectors/{name}",
        json=config,
        headers={"Authorization": f"Bearer {worker.token}"},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text


def test_forged_and_replayed_webhooks_are_refused_for_every_source(tmp_path: Path) -> None:
    """Every source's forged or replayed webhook gets 401 and produces nothing; genuine ones are
    accepted.
    """
    hook = {n: secrets.token_hex(8) for n in ("canon", "jira", "zd", "ic", "hs")}
    env = {f"HOOK_{k.upper()}": v for k, v in hook.items()}
    issues = generate_project(2, project="SEC", seed=2)
    with (
        own_broker() as broker,
        JiraEmulator(issues, token="t", webhook_secret=hook["jira"]) as jira,
        ZendeskEmulator([], token="t", webhook_secret=hook["zd"]) as zendesk,
        IntercomEmulator([], {}, token="t", client_secret=hook["ic"]) as intercom,
        HubSpotEmulator(generate_crm(1), token="t", client_secret=hook["hs"]) as hubspot,
    ):
        with Hub(broker.bootstrap_servers, tmp_path, env={**env, "TOKEN": "t"}) as hub:
            worker = hub.start_worker()
            worker.wait_healthy()
            token = "${env:TOKEN}"
            configs = {
                "sec-canon": ("canonical_http", {"base_url": "http://127.0.0.1:9", "token": token}),
                "sec-jira": (
                    "jira",
                    {"base_url": jira.url, "email": jira.email, "api_token": token},
                ),
                "sec-zd": (
                    "zendesk",
                    {"base_url": zendesk.url, "email": zendesk.email, "api_token": token},
                ),
                "sec-ic": ("intercom", {"base_url": intercom.url, "access_token": token}),
                "sec-hs": ("hubspot", {"base_url": hubspot.url, "access_token": token}),
            }
            for name, (kind, settings) in configs.items():
                short = name.removeprefix("sec-")
                secret = f"${{env:HOOK_{short.upper()}}}"
                _put(
                    worker, name, {"type": kind, "settings": {**settings, "webhook_secret": secret}}
                )

            def signed(name: str) -> tuple[bytes, dict[str, str]]:
                now = datetime.now(UTC)
                if name == "sec-canon":
                    body = CanonicalSource.webhook_body([])
                    return body, {"X-Hub-Signature": CanonicalSource.sign(hook["canon"], body)}
                if name == "sec-jira":
                    return jira.webhook("jira:issue_updated", "SEC-1", None, now)
                if name == "sec-zd":
                    return zendesk.signed({"type": "zen:event-type:ticket.created"}, now)
                if name == "sec-ic":
                    return intercom.signed(
                        {"type": "notification_event", "data": {"item": {"type": "ping"}}}
                    )
                return hubspot.signed([], f"{worker.url}/webhooks/sec-hs", now)

            for name in configs:
                url = f"{worker.url}/webhooks/{name}"
                body, headers = signed(name)
                deadline = time.monotonic() + 15
                first = requests.post(url, data=body, headers=headers, timeout=10)
                while first.status_code == 404 and time.monotonic() < deadline:
                    time.sleep(0.3)  # the worker has not read the config yet
                    first = requests.post(url, data=body, headers=headers, timeout=10)
                assert first.status_code == 200, (name, first.text)
                replay = requests.post(url, data=body, headers=headers, timeout=10)
                assert replay.status_code == 401 and "replay" in replay.json()["error"]["message"]
                forged = {k: (v[:-4] + "AAAA") for k, v in headers.items()}
                if name == "sec-zd":  # keep its timestamp, forge only the signature
                    forged["X-Zendesk-Webhook-Signature-Timestamp"] = headers[
                        "X-Zendesk-Webhook-Signature-Timestamp"
                    ]
                if name == "sec-hs":
                    forged["X-HubSpot-Request-Timestamp"] = headers["X-HubSpot-Request-Timestamp"]
                other_body, _ = signed(name)
                for attempt in (forged, {}):
                    refused = requests.post(url, data=other_body, headers=attempt, timeout=10)
                    assert refused.status_code == 401, (name, attempt, refused.text)


def test_secrets_never_reach_logs_topics_api_answers_or_dead_letters(tmp_path: Path) -> None:
    """Real secret values, a source that refuses them (401) and one that sends records we
    cannot map: afterwards, nothing anywhere contains a secret."""
    values = {
        "JIRA_TOKEN": "jira-" + secrets.token_hex(12),
        "JIRA_HOOK": "hook-" + secrets.token_hex(12),
        "WRONG_TOKEN": "wrong-" + secrets.token_hex(12),
        "SLACK_URL": "https://hooks.slack.test/services/" + secrets.token_hex(12),
    }
    issues = generate_project(20, project="LEAK", seed=12)
    del issues[4]["fields"]["status"]  # dead-lettered, with its raw record
    with own_broker() as broker, JiraEmulator(issues, token=values["JIRA_TOKEN"]) as jira:
        alerting = tmp_path / "alerting.yaml"
        alerting.write_text(
            json.dumps(
                {
                    "evaluation_interval": "1s",
                    "route": {"receiver": "chat", "group_wait": "1s"},
                    "receivers": [{"name": "chat", "slack_configs": [{"url": "${env:SLACK_URL}"}]}],
                }
            )
        )
        with Hub(
            broker.bootstrap_servers,
            tmp_path,
            env={**values, "HUB_ALERTING_FILE": str(alerting), "HUB_LOG_LEVEL": "debug"},
        ) as hub:
            worker = hub.start_worker()
            worker.wait_healthy()
            base = {"base_url": jira.url, "email": jira.email, "projects": ["LEAK"]}
            connectors = [
                {
                    "name": "leak-ok",
                    "type": "jira",
                    "poll_interval": "1s",
                    "settings": {
                        **base,
                        "api_token": "${env:JIRA_TOKEN}",
                        "webhook_secret": "${env:JIRA_HOOK}",
                    },
                },
                {
                    "name": "leak-refused",
                    "type": "jira",
                    "poll_interval": "1s",
                    "settings": {**base, "api_token": "${env:WRONG_TOKEN}"},
                },
            ]
            hub.start_connect(connectors)
            worker.wait_for(
                "/api/v1/workitems",
                lambda b: len([i for i in b["items"] if i["key"].startswith("LEAK-")]) == 19,
                timeout=60,
            )
            worker.wait_for(
                "/api/v1/connectors/leak-refused/status", lambda b: b.get("last_error"), timeout=60
            )
            body, headers = jira.webhook("jira:issue_updated", "LEAK-1", None, datetime.now(UTC))
            requests.post(
                f"{worker.url}/webhooks/leak-ok", data=b"{" + body, headers=headers, timeout=10
            )
            time.sleep(2)

            seen: list[str] = [worker.log(), hub.connect.log() if hub.connect else ""]
            for topic in list_topics(broker.bootstrap_servers):
                for key, value in read_topic(broker.bootstrap_servers, topic):
                    seen.append(f"{topic} {key!r} {value!r}")
            auth = {"Authorization": f"Bearer {worker.token}"}
            for path in (
                "/api/v1/connectors",
                "/api/v1/connectors/leak-ok",
                "/api/v1/connectors/leak-ok/status",
                "/api/v1/connectors/leak-refused/status",
                "/api/v1/connector-types",
                "/api/v1/alerting/status",
                "/api/v1/notifications",
                "/metrics",
            ):
                seen.append(requests.get(worker.url + path, headers=auth, timeout=10).text)
            everything = "\n".join(seen)
            assert "cannot map issue" in everything and "LEAK-5" in everything  # dead letter
            assert "401" in everything  # the refused sync's error is there, without the token
            for name, value in values.items():
                assert value not in everything, f"{name} leaked"
