"""Zendesk status history: requests per 1,000 changed tickets, audits vs the events export.

Before: one ``/tickets/{id}/audits`` request per changed ticket (and ``show_many`` for
their organizations). After: the incremental ticket events and organization exports,
1,000 records a page. Both pull the same emulated tickets and must give the same events;
the baseline is the per-ticket way, measured in the same run.
"""

from __future__ import annotations

from typing import Any

from bench.common import Result
from connectors.config import build_connector, parse_config
from core.secrets import SecretResolver
from emulators.zendesk import ZendeskEmulator, generate_tickets

TICKETS = 1_000


def _pull(zd: ZendeskEmulator, admin_exports: bool) -> tuple[int, set[str]]:
    settings: dict[str, Any] = {
        "base_url": zd.url,
        "email": zd.email,
        "api_token": "${env:T}",
        "page_size": 1000,
        "requests_per_second": 10_000,
        "admin_exports": admin_exports,
    }
    valid = parse_config({"name": "bench", "type": "zendesk", "settings": settings})
    connector = build_connector(valid, SecretResolver({"T": zd.token}))
    zd.requests.clear()
    ids = {e.event_id for page in connector.pull(None) for e in page.events}
    return len(zd.requests), ids


def run(quick: bool) -> list[Result]:
    tickets, audits, orgs = generate_tickets(TICKETS, orgs=50)
    with ZendeskEmulator(tickets, audits, orgs) as zd:
        before, old = _pull(zd, admin_exports=False)
        after, new = _pull(zd, admin_exports=True)
    if old != new:
        raise AssertionError("the two ways gave different events")
    return [
        Result(
            "zendesk_history_requests_per_1000_tickets",
            after * 1000 / TICKETS,
            "requests",
            before * 1000 / TICKETS,
            higher_is_better=False,
            note=f"{TICKETS} changed tickets with {sum(map(len, audits.values()))} audits; "
            "baseline: one audits request per ticket (admin_exports: false)",
        )
    ]
