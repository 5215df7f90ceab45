"""The demo's sources: the organisation served by emulators, and the files that connect
the hub to them through its normal configuration path.

Writes, under ``<data dir>/demo``: ``connectors.yaml`` (the connector runtime applies it),
``alerting.yaml`` (the worker reads it), ``roadmap.yaml`` (applied through the API), the
emulators' credentials as secret files the configs reference (``${file:...}``), and
``ready.json`` once everything listens.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from demo.capture import WebhookCapture
from demo.organisation import JIRA_FIELD, TEAMS, Organisation
from demo.sprints import add_sprints
from emulators.hubspot import HubSpotEmulator
from emulators.jira import JiraEmulator
from emulators.zendesk import ZendeskEmulator

__all__ = ["DemoSources", "JIRA_CONNECTOR", "demo_dir"]

JIRA_CONNECTOR = "jira-demo"
JIRA_EMAIL = "demo-bot@example.com"
ZENDESK_EMAIL = "demo-agent@example.com"


def demo_dir(data_dir: Path) -> Path:
    return data_dir / "demo"


@dataclass
class DemoSources:
    org: Organisation
    directory: Path

    def __post_init__(self) -> None:
        self.secrets = {
            name: secrets.token_urlsafe(18)
            for name in ("jira_token", "jira_webhook", "zendesk_token", "hubspot_token")
        }
        self.jira = JiraEmulator(
            self.org.jira_issues,
            email=JIRA_EMAIL,
            token=self.secrets["jira_token"],
            webhook_secret=self.secrets["jira_webhook"],
            user_timezone="UTC",
        )
        add_sprints(self.jira, self.org)
        self.zendesk = ZendeskEmulator(
            self.org.zendesk_tickets,
            self.org.zendesk_audits,
            self.org.zendesk_orgs,
            email=ZENDESK_EMAIL,
            token=self.secrets["zendesk_token"],
        )
        self.hubspot = HubSpotEmulator(self.org.hubspot, token=self.secrets["hubspot_token"])
        self.capture = WebhookCapture()
        for server in self.servers:
            server.serialized = True  # the live activity changes data while they serve
            server.record_limit = 200

    @property
    def servers(self) -> list[Any]:
        return [self.jira, self.zendesk, self.hubspot, self.capture]

    def __enter__(self) -> DemoSources:
        for server in self.servers:
            server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.__exit__(*exc)

    def _secret_file(self, name: str) -> str:
        path = self.directory / "secrets" / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(self.secrets[name])
        os.chmod(path, 0o600)
        return f"${{file:{path.resolve()}}}"

    def connectors(self) -> dict[str, Any]:
        start = (self.org.now.date().replace(day=1)).replace(year=self.org.now.year - 1)
        return {
            "connectors": [
                {
                    "name": JIRA_CONNECTOR,
                    "type": "jira",
                    "poll_interval": "5s",
                    "settings": {
                        "base_url": self.jira.url,
                        "flavor": "cloud",
                        "email": JIRA_EMAIL,
                        "api_token": self._secret_file("jira_token"),
                        "projects": [t.project for t in TEAMS],
                        "story_points_field": "customfield_10016",
                        "start_date": start.isoformat(),
                        "team_mapping": {"projects": {t.project: t.key for t in TEAMS}},
                        "webhook_secret": self._secret_file("jira_webhook"),
                        "requests_per_second": 50,
                    },
                },
                {
                    "name": "zendesk-demo",
                    "type": "zendesk",
                    "poll_interval": "5s",
                    "settings": {
                        "base_url": self.zendesk.url,
                        "email": ZENDESK_EMAIL,
                        "api_token": self._secret_file("zendesk_token"),
                        "start_date": start.isoformat(),
                        "group_teams": {str(t.group_id): t.key for t in TEAMS},
                        "jira_field": JIRA_FIELD,
                        "arr_field": "arr",
                        "tier_field": "tier",
                        "requests_per_second": 100,
                    },
                },
                {
                    "name": "hubspot-demo",
                    "type": "hubspot",
                    "poll_interval": "10s",
                    "settings": {
                        "base_url": self.hubspot.url,
                        "access_token": self._secret_file("hubspot_token"),
                        "arr_property": "arr",
                        "link_property": "roadmap_item",
                        "start_date": start.isoformat(),
                        "requests_per_second": 20,
                    },
                },
            ]
        }

    def alerting(self, api_url: str) -> dict[str, Any]:
        """Short timers so the demo speaks within minutes; real defaults are calmer."""
        quick = {"for": "15s"}
        return {
            "evaluation_interval": "5s",
            "external_url": api_url,
            "rules": {
                "forecast_slip": {**quick, "seed": self.org.seed},
                "past_due": quick,
                "started_late": quick,
                "allocation_drift": quick,
                "unplanned_work": quick,
                "scope_creep": quick,
                "stalled": quick,
                "wip_over_limit": quick,
                "support_overload": quick,
                "demand_aging": quick,
                "over_budget": quick,
                # themes settle once the backfill is in; the single sign-on demand and the
                # export failures of the live activity are the ones worth a word
                "emerging_theme": {"for": "30s"},
                "unaddressed_demand": {"for": "30s", "min_arr": 2_000_000},
            },
            "route": {
                "receiver": "demo",
                "group_by": ["alertname", "team"],
                "group_wait": "5s",
                "group_interval": "20s",
                "repeat_interval": "4h",
            },
            "receivers": [
                {
                    "name": "demo",
                    "console_configs": [{}],
                    "webhook_configs": [{"url": f"{self.capture.url}/hooks/alerts"}],
                },
                {
                    "name": "digest",
                    "webhook_configs": [{"url": f"{self.capture.url}/hooks/digest"}],
                },
            ],
            "inhibit_rules": [
                {  # a team buried in support explains its unplanned work
                    "source_matchers": ['alertname="SupportOverload"'],
                    "target_matchers": ['alertname="UnplannedWork"'],
                    "equal": ["team"],
                },
                {  # past due says more than "will be late"
                    "source_matchers": ['alertname="PastDue"'],
                    "target_matchers": ['alertname="ForecastSlip"'],
                    "equal": ["roadmap_item"],
                },
            ],
            "digests": [
                {
                    "name": "leadership-daily",
                    "receiver": "digest",
                    "schedule": "daily",
                    "at": "09:00",
                }
            ],
        }

    def write_files(self, api_url: str) -> dict[str, Path]:
        self.directory.mkdir(parents=True, exist_ok=True)
        files = {
            "connectors": self.directory / "connectors.yaml",
            "alerting": self.directory / "alerting.yaml",
            "roadmap": self.directory / "roadmap.yaml",
        }
        files["connectors"].write_text(yaml.safe_dump(self.connectors(), sort_keys=False))
        files["alerting"].write_text(yaml.safe_dump(self.alerting(api_url), sort_keys=False))
        files["roadmap"].write_text(yaml.safe_dump(self.org.roadmap, sort_keys=False))
        ready = {
            "jira": self.jira.url,
            "zendesk": self.zendesk.url,
            "hubspot": self.hubspot.url,
            "webhook_capture": self.capture.url,
            **{k: str(v) for k, v in files.items()},
        }
        (self.directory / "ready.json").write_text(json.dumps(ready, indent=2))
        return files
