"""``hub demo serve`` (run by ``hub up --demo``) and ``hub demo seed``.

``serve`` starts the emulators with the generated organisation, writes the files the
worker and the connector runtime start from, waits for the API, applies the roadmap
through it, prints where to look, then plays live activity and reports what the hub does.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click
import requests

from core.runtime_files import resolve_api_token
from core.settings import Settings
from demo.live import LiveActivity
from demo.organisation import generate
from demo.sources import DemoSources, demo_dir

__all__ = ["serve", "seed", "counter_rate", "STEP_SECONDS"]

STEP_SECONDS = 2.0
STATUS_EVERY = 10.0


class _Hub:
    def __init__(self, settings: Settings, token: str) -> None:
        self.base = f"http://{settings.api_host}:{settings.api_port}"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str) -> Any:
        response = self.session.get(self.base + path, timeout=10)
        response.raise_for_status()
        return response.json() if path != "/metrics" else response.text

    def healthy(self) -> bool:
        try:
            return self.session.get(self.base + "/health", timeout=3).status_code == 200
        except requests.RequestException:
            return False


def _say(text: str) -> None:
    click.echo(click.style("demo ", fg="cyan", bold=True) + text)


def _banner(settings: Settings, token: str, capture_url: str) -> None:
    url = settings.api_url
    lines = [
        "",
        click.style("Product Ops Hub is running the demo organisation", bold=True),
        f"  dashboard  {settings.dashboard_url}   (sign in with the token below)",
        f"  API        {url}   (OpenAPI: {url}/api/v1/openapi.json)",
        f"  token      {token}",
        f"  webhooks   {capture_url}/messages   (alert notifications as a receiver got them)",
        "",
        "  try:",
        *(
            f'    curl -s -H "Authorization: Bearer {token}" "{url}/api/v1/{path}"'
            for path in (
                "roadmap/items?stage=in_progress",
                "teams/platform/resources",
                "alerts?state=firing",
            )
        ),
        "",
    ]
    click.echo("\n".join(lines))


def counter_rate(previous: tuple[float, float], current: tuple[float, float]) -> float:
    """Per second between two ``(monotonic time, counter total)`` readings.

    A total that went down was reset (a worker restarted and counts from zero): as
    Prometheus's ``rate()`` does, the new total is what was gained, so the console never
    shows a negative rate."""
    (then, before), (now, total) = previous, current
    gained = total - before if total >= before else total
    return gained / max(now - then, 1e-6)


def _status(hub: _Hub, previous: tuple[float, float]) -> tuple[float, float]:
    try:
        connectors = hub.get("/api/v1/connectors")["items"]
        metrics = hub.get("/metrics")
        firing = hub.get("/api/v1/alerts?state=firing&limit=1000")["items"]
        resolved = hub.get("/api/v1/alerts?state=resolved&limit=1000")["items"]
    except (requests.RequestException, ValueError, KeyError):
        return previous
    folded = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("hub_events_folded_total{")
    )
    now = time.monotonic()
    rate = counter_rate(previous, (now, folded))
    parts = []
    for connector in connectors:
        try:
            status = hub.get(f"/api/v1/connectors/{connector['name']}/status")
        except (requests.RequestException, ValueError):
            continue
        produced = status.get("events_produced_total") or 0
        parts.append(f"{connector['name']} {status['state'].lower()} {produced:,} events")
    syncs = ", ".join(parts)
    _say(
        f"{syncs} | folded {folded:,.0f} events ({rate:,.0f}/s) | "
        f"alerts firing {len(firing)}, resolved {len(resolved)}"
    )
    return now, folded


def serve(settings: Settings, seed_value: int) -> None:
    """Runs until SIGTERM/SIGINT."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    directory = demo_dir(settings.data_dir)
    (directory / "ready.json").unlink(missing_ok=True)
    org = generate(seed_value)
    token, _ = resolve_api_token(settings)
    with DemoSources(org, directory) as sources:
        files = sources.write_files(settings.api_url)
        _say(
            f"organisation seed {seed_value}: {len(org.jira_issues):,} Jira issues, "
            f"{len(org.zendesk_tickets):,} support tickets, {len(org.hubspot['deals'])} deals, "
            f"{len(org.roadmap['items'])} roadmap items, {len(org.roadmap['teams'])} teams"
        )
        hub = _Hub(settings, token)
        while not hub.healthy():
            if stop.wait(0.5):
                return
        roadmap = files["roadmap"].read_text()
        while not stop.is_set():
            try:
                response = hub.session.put(
                    hub.base + "/api/v1/roadmap", data=roadmap.encode(), timeout=10
                )
                if response.ok:
                    _say(f"roadmap applied: {len(response.json()['changes'])} changes")
                    break
            except requests.RequestException:
                pass
            stop.wait(1.0)
        _banner(settings, token, sources.capture.url)
        live = LiveActivity(org, sources, settings.api_url, seed=seed_value + 1)
        last_status, previous = 0.0, (time.monotonic(), 0.0)
        while not stop.wait(STEP_SECONDS):
            live.step()
            if time.monotonic() - last_status >= STATUS_EVERY:
                previous = _status(hub, previous)
                last_status = time.monotonic()


def seed(out: Path, seed_value: int) -> dict[str, int]:
    """Write the generated organisation as files: what each emulator serves."""
    import yaml

    org = generate(seed_value)
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "jira/issues.json": org.jira_issues,
        "zendesk/tickets.json": org.zendesk_tickets,
        "zendesk/audits.json": {str(k): v for k, v in org.zendesk_audits.items()},
        "zendesk/organizations.json": org.zendesk_orgs,
        "hubspot/crm.json": org.hubspot,
    }
    for name, body in written.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, indent=1))
    (out / "roadmap.yaml").write_text(yaml.safe_dump(org.roadmap, sort_keys=False))
    (out / "README.md").write_text(
        f"# Demo organisation, seed {seed_value}, as of {org.now.isoformat()}\n\n"
        "- `jira/issues.json`: Jira Cloud issues with changelogs (what `/search/jql` returns)\n"
        "- `zendesk/*.json`: tickets, their audits, organizations\n"
        "- `hubspot/crm.json`: companies, deals, stage history, associations\n"
        "- `roadmap.yaml`: teams and initiatives; apply with `hub roadmap apply`\n"
    )
    return {
        "jira_issues": len(org.jira_issues),
        "tickets": len(org.zendesk_tickets),
        "deals": len(org.hubspot["deals"]),
        "roadmap_items": len(org.roadmap["items"]),
    }
