"""Jira backfill from the emulator: requests made vs the minimum, events/s, and memory.

Memory is the peak Python allocation during the pull (tracemalloc), measured at 1,000
and at 10,000 issues: a streaming connector's peak stays flat as the backfill grows.
The baseline for the request count is the minimum the page size allows.
"""

from __future__ import annotations

import math
import time
import tracemalloc

from bench.common import Result
from connectors.config import build_connector, parse_config
from core.secrets import SecretResolver
from emulators.jira import JiraEmulator, generate_project

DISCOVERY_CALLS = 4  # /myself, /field, /status, the board listing (for sprints)


def _mapping_only(count: int) -> float:
    """Events/s of the pure mapping on the same issues, no HTTP: the baseline."""
    from connectors.jira.mapping import FieldIds, MappingContext, category_of, map_issue
    from emulators.jira import STATUSES

    with JiraEmulator([]) as jira:
        valid = parse_config(
            {
                "name": "bench",
                "type": "jira",
                "settings": {"base_url": jira.url, "email": jira.email, "api_token": "${env:T}"},
            }
        )
        connector = build_connector(valid, SecretResolver({"T": jira.token}))
    categories = {s["name"]: category_of(s) or "todo" for s in STATUSES}
    context = MappingContext(
        connector.event, "http://jira", FieldIds(story_points="customfield_10016"), categories
    )
    issues = generate_project(count, histories_per_issue=4)
    started = time.perf_counter()
    events = sum(len(map_issue(issue, context)) for issue in issues)
    return events / (time.perf_counter() - started)


def _pull(count: int, trace: bool) -> tuple[int, float, int, int]:
    issues = generate_project(count, histories_per_issue=4)
    with JiraEmulator(issues) as jira:
        settings = {
            "base_url": jira.url,
            "email": jira.email,
            "api_token": "${env:T}",
            "page_size": 100,
            "requests_per_second": 1000,
        }
        valid = parse_config({"name": "bench", "type": "jira", "settings": settings})
        connector = build_connector(valid, SecretResolver({"T": jira.token}))
        jira._ordered()  # the emulator's own index, so the trace sees only the connector's pull
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        events = sum(len(page.events) for page in connector.pull(None))
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
        return events, seconds, peak, len(jira.requests)


def run(quick: bool) -> list[Result]:
    small, large = (500, 2_000) if quick else (1_000, 10_000)
    _, _, small_peak, _ = _pull(small, trace=True)
    _, _, large_peak, _ = _pull(large, trace=True)
    events, seconds, _, requests = _pull(large, trace=False)
    baseline = _mapping_only(large)
    minimum = DISCOVERY_CALLS + math.ceil(large / 100)
    return [
        Result(
            "jira_backfill_requests",
            requests,
            "requests",
            minimum,
            higher_is_better=False,
            note=f"{large} issues, 100 a page; baseline: the minimum possible",
        ),
        Result(
            "jira_backfill_events_per_s",
            events / seconds,
            "events/s",
            baseline,
            note=f"{events} events from {large} issues over HTTP (emulator in the same process); "
            "baseline: the pure mapping of the same issues",
        ),
        Result(
            "jira_backfill_peak_memory",
            large_peak / 2**20,
            "MiB",
            small_peak / 2**20,
            higher_is_better=False,
            note=f"peak at {large} issues vs at {small}: flat means streaming",
        ),
    ]
