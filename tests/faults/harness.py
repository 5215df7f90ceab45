"""What every fault test needs: its own broker, a Jira emulator, the hub's processes, and
ground truth computed straight from the emulator's data to compare the API with."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import yaml

from emulators.jira import JiraEmulator
from hub.broker import free_port
from tests.helpers import HubProcess

__all__ = ["jira_truth", "served_items", "Hub", "jira_connector"]

_CATEGORY = {"new": "todo", "indeterminate": "in_progress", "done": "done"}


def jira_truth(jira: JiraEmulator, project: str) -> dict[str, dict[str, Any]]:
    """Per issue, what the source says: status, category, how many status changes, when
    it was last done. Read from the emulator's own records, not through our mapping."""
    truth = {}
    with jira.lock:
        issues = [i for i in jira.issues.values() if i["fields"]["project"]["key"] == project]
    for issue in issues:
        changes = [
            (datetime.fromisoformat(h["created"]), item)
            for h in issue["changelog"]["histories"]
            for item in h["items"]
            if item["field"] == "status"
        ]
        done = [at for at, item in changes if item["toString"] == "Done"]
        fields = issue["fields"]
        truth[issue["key"]] = {
            "status": fields["status"]["name"],
            "status_category": _CATEGORY[fields["status"]["statusCategory"]["key"]],
            "transitions": len(changes),
            "done_at": max(done) if done and fields["status"]["name"] == "Done" else None,
        }
    return truth


class Hub:
    """A worker (or several) and a connector runtime against one broker."""

    def __init__(self, bootstrap: str, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.bootstrap, self.tmp_path = bootstrap, tmp_path
        self.env = {"HUB_APP_ID": f"fault-{uuid.uuid4().hex[:6]}", **(env or {})}
        self.workers: list[HubProcess] = []
        self.connect: HubProcess | None = None  # the latest connector runtime
        self._processes: list[HubProcess] = []

    def start_worker(self, name: str = "worker") -> HubProcess:
        worker = HubProcess(
            ["worker"],
            self.tmp_path / name,
            free_port(),
            bootstrap=self.bootstrap,
            extra_env=self.env,
        )
        self.workers.append(worker)
        self._processes.append(worker)
        return worker

    def start_connect(
        self, connectors: list[dict[str, Any]], name: str = "connect", **extra: str
    ) -> HubProcess:
        config = self.tmp_path / "connectors.yaml"
        config.write_text(yaml.safe_dump({"connectors": connectors}))
        self.connect = HubProcess(
            ["connect", "--config", str(config)],
            self.tmp_path / name,
            free_port(),
            bootstrap=self.bootstrap,
            extra_env={**self.env, **extra},
        )
        self._processes.append(self.connect)
        return self.connect

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc: object) -> None:
        """Every process started, including runtimes replaced by a later one."""
        for process in self._processes:
            process.__exit__(None, None, None)


def jira_connector(jira: JiraEmulator, name: str, project: str, **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "jira",
        "poll_interval": "1s",
        "settings": {
            "base_url": jira.url,
            "flavor": "cloud",
            "email": jira.email,
            "api_token": "${env:JIRA_TOKEN}",
            "projects": [project],
            "team_mapping": {"projects": {project: "faults"}},
            "requests_per_second": 100,
            "page_size": 20,
            **settings,
        },
    }


def served_items(worker: HubProcess, prefix: str) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        body = worker.get("/api/v1/workitems", params=params).json()
        items.update({i["key"]: i for i in body["items"] if i["key"].startswith(prefix)})
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def matches_truth(worker: HubProcess, jira: JiraEmulator, project: str) -> list[str]:
    """Differences between the API and the source; empty when they agree exactly."""
    truth = jira_truth(jira, project)
    try:
        served = served_items(worker, f"{project}-")
    except (requests.RequestException, ValueError):
        return ["API not answering"]
    problems = [f"lost {k}" for k in sorted(truth.keys() - served.keys())]
    problems += [f"unknown {k}" for k in sorted(served.keys() - truth.keys())]
    if problems:
        return problems
    for key in sorted(truth):
        want = truth[key]
        try:
            got = worker.get(f"/api/v1/workitems/{key}").json()  # with its timeline
        except (requests.RequestException, ValueError):
            return ["API not answering"]
        if got["status"] != want["status"] or got["status_category"] != want["status_category"]:
            problems.append(f"{key}: status {got['status']} != {want['status']}")
        if len(got["timeline"]) != want["transitions"] + 1:  # double-counted or lost changes
            problems.append(
                f"{key}: {len(got['timeline']) - 1} transitions, source has {want['transitions']}"
            )
        done = got["done_at"] and datetime.fromisoformat(got["done_at"].replace("Z", "+00:00"))
        if want["done_at"] != (done or None):
            problems.append(f"{key}: done_at {got['done_at']} != {want['done_at']}")
    return problems


def wait_for_truth(
    worker: HubProcess, jira: JiraEmulator, project: str, timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    problems: list[str] = []
    while time.monotonic() < deadline:
        problems = matches_truth(worker, jira, project)
        if not problems:
            return
        time.sleep(1)
    raise AssertionError(
        f"projection != source after {timeout}s: {problems[:10]} ({len(problems)} in all)\n"
        + worker.log()[-3000:]
    )
