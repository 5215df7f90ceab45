"""Jira through the whole hub: emulator -> connector runtime -> broker -> worker -> API."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import requests

from emulators.jira import JiraEmulator, generate_project
from hub.broker import free_port
from tests.helpers import HubProcess


def test_jira_issues_arrive_with_their_lifecycle_and_webhooks_count_once(
    broker: str, tmp_path: Path
) -> None:
    """A Data Center project is backfilled through the runtime; a webhook for a change the
    next pull also sees leaves exactly one transition for it."""
    issues = generate_project(40, project="E2E", histories_per_issue=4, seed=9)
    with (
        JiraEmulator(issues, flavor="datacenter", token="dc-pat") as jira,
        HubProcess(
            ["worker"],
            tmp_path / "w",
            free_port(),
            bootstrap=broker,
            extra_env={"JIRA_PAT": "dc-pat", "JIRA_HOOK": "hook"},
        ) as api,
    ):
        api.wait_healthy()
        auth = {"Authorization": f"Bearer {api.token}"}
        config = {
            "type": "jira",
            "poll_interval": "1s",
            "settings": {
                "base_url": jira.url,
                "flavor": "datacenter",
                "token": "${env:JIRA_PAT}",
                "projects": ["E2E"],
                "webhook_secret": "${env:JIRA_HOOK}",
                "team_mapping": {"projects": {"E2E": "platform"}},
            },
        }
        assert (
            requests.put(
                f"{api.url}/api/v1/connectors/jira-e2e", json=config, headers=auth, timeout=10
            ).status_code
            == 201
        )
        with HubProcess(
            ["connect"],
            tmp_path / "c",
            free_port(),
            bootstrap=broker,
            extra_env={"JIRA_PAT": "dc-pat"},
        ) as connect:
            item = api.wait_for(
                "/api/v1/workitems/E2E-40", lambda b: b["stage"] == "done", timeout=60
            )
            assert [s["status"] for s in item["timeline"]] == [
                "Backlog",
                "Selected for Development",
                "In Progress",
                "QA",
                "Done",
            ]
            assert item["team"] == "platform" and item["cycle_time_seconds"] > 0
            reopened_at = datetime.fromisoformat(
                jira.issues["E2E-1"]["fields"]["updated"]
            ) + timedelta(hours=1)
            jira.transition("E2E-1", "In Progress", reopened_at)
            history = jira.issues["E2E-1"]["changelog"]["histories"][-1]
            body, headers = jira.webhook("jira:issue_updated", "E2E-1", history, reopened_at)
            delivered = requests.post(
                f"{api.url}/webhooks/jira-e2e", data=body, headers=headers, timeout=30
            )
            assert delivered.status_code == 200 and delivered.json()["accepted"] >= 1
            reopened = api.wait_for("/api/v1/workitems/E2E-1", lambda b: b["reopen_count"] == 1)
            time.sleep(2.5)  # the next poll pulls the same change
            status = requests.get(
                f"{api.url}/api/v1/connectors/jira-e2e/status", headers=auth, timeout=10
            ).json()
            assert status["state"] == "RUNNING"
            again = api.get("/api/v1/workitems/E2E-1").json()
            assert len(again["timeline"]) == len(reopened["timeline"]) == 6
            connect.stop()
        api.stop()
