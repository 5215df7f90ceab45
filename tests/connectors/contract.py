"""One contract every connector type passes, generated per type (singer-sdk's idea).

A ``Harness`` says how to run one type against its emulator: the seeded source, the
settings (secrets as references only), and how to make a change, a deletion and a signed
webhook at the source. ``tests/connectors/test_contract.py`` runs the same checks over
every harness: backfill, incremental from a cursor, 429 and 5xx, deletes, webhook ids
equal to pull ids, secrets masked. A new connector type adds one harness here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Connector
from connectors.config import build_connector, parse_config
from core.secrets import SecretResolver
from emulators.canonical_source import CanonicalSource
from emulators.hubspot import HubSpotEmulator, generate_crm, hs_time
from emulators.intercom import IntercomEmulator, generate_conversations
from emulators.jira import JiraEmulator, generate_project
from emulators.salesforce import SalesforceEmulator, generate_org, sf_time
from emulators.zendesk import ZendeskEmulator, generate_tickets
from tests.helpers import event_dict

__all__ = ["HARNESSES", "Harness", "connector_for"]

Source = Any  # an emulator: every one is an EmulatorServer with ``faults``


@dataclass(frozen=True)
class Harness:
    """How to drive one connector type through the contract."""

    type_name: str
    open: Callable[[], AbstractContextManager[Source]]
    settings: Callable[[Source], dict[str, Any]]
    secrets: Callable[[Source], dict[str, str]]
    # Change one record at the source now; the entity key whose events must follow.
    change: Callable[[Source], str]
    # Delete one record at the source; (entity key, the event type that reports it).
    delete: Callable[[Source], tuple[str, str]] | None = None
    # Time passing between a backfill and the next sync, where deletions are polled by window.
    age_cursor: Callable[[dict[str, Any]], dict[str, Any]] = lambda cursor: cursor
    # A signed delivery about a record the pull also reads: (method, uri, headers, body).
    webhook: Callable[[Source], tuple[str, str, dict[str, str], bytes]] | None = None
    # Settings that must never show their values: the secrets' names.
    secret_names: tuple[str, ...] = field(default=())
    # The setting check() must name when the credential is refused.
    credential: str = ""
    why_no_deletes: str = ""
    why_no_webhooks: str = ""


def connector_for(harness: Harness, source: Source, **overrides: Any) -> Connector:
    """The harness's connector, built as the runtime builds it (references resolved)."""
    settings = {**harness.settings(source), **overrides}
    valid = parse_config(
        {"name": f"contract-{harness.type_name}", "type": harness.type_name, "settings": settings}
    )
    return build_connector(valid, SecretResolver(harness.secrets(source)))


NOW = datetime.now(UTC).replace(microsecond=0)


# --- jira -------------------------------------------------------------------------


def _jira_change(jira: JiraEmulator) -> str:
    key = sorted(jira.issues)[0]
    jira.transition(key, "In Progress", datetime.now(UTC))
    return key


def _jira_delete(jira: JiraEmulator) -> tuple[str, str]:
    key = sorted(jira.issues)[-1]
    del jira.issues[key]
    time.sleep(0.5)  # past the reconciliation interval the harness configures
    return key, "work_item.deleted"


def _jira_webhook(jira: JiraEmulator) -> tuple[str, str, dict[str, str], bytes]:
    key = sorted(jira.issues)[1]
    at = datetime.now(UTC)
    jira.transition(key, "In Progress", at)
    history = jira.issues[key]["changelog"]["histories"][-1]
    body, headers = jira.webhook("jira:issue_updated", key, history, at)
    return "POST", "https://hub.example/webhooks/jira", headers, body


JIRA = Harness(
    type_name="jira",
    open=lambda: JiraEmulator(
        generate_project(8, histories_per_issue=2, seed=11),
        token="jira-t0ken-7f3a",
        webhook_secret="jira-h00k-7f3a",
    ),
    settings=lambda jira: {
        "base_url": jira.url,
        "flavor": "cloud",
        "email": jira.email,
        "api_token": "${env:JIRA_TOKEN}",
        "page_size": 3,
        "webhook_secret": "${env:JIRA_HOOK}",
        "reconcile_interval_hours": 0.0001,
        "requests_per_second": 500,
    },
    secrets=lambda jira: {"JIRA_TOKEN": jira.token, "JIRA_HOOK": jira.webhook_secret},
    change=_jira_change,
    delete=_jira_delete,
    webhook=_jira_webhook,
    secret_names=("JIRA_TOKEN", "JIRA_HOOK"),
    credential="settings.api_token",
)


# --- zendesk ----------------------------------------------------------------------


def _zendesk_webhook(zd: ZendeskEmulator) -> tuple[str, str, dict[str, str], bytes]:
    body, headers = zd.signed(
        {"type": "zen:event-type:ticket.status_changed", "detail": {"id": "501"}},
        datetime.now(UTC),
    )
    return "POST", "https://hub.example/webhooks/zd", headers, body


def _zendesk_change(zd: ZendeskEmulator) -> str:
    zd.change_status(502, "solved", datetime.now(UTC))
    return "zendesk-502"


def _zendesk_delete(zd: ZendeskEmulator) -> tuple[str, str]:
    zd.delete(503, datetime.now(UTC))
    return "zendesk-503", "customer_request.closed"  # closes with resolution "deleted"


ZENDESK = Harness(
    type_name="zendesk",
    open=lambda: ZendeskEmulator(
        *generate_tickets(5), token="zd-t0ken-7f3a", webhook_secret="zd-h00k-7f3a"
    ),
    settings=lambda zd: {
        "base_url": zd.url,
        "email": zd.email,
        "api_token": "${env:ZD_TOKEN}",
        "page_size": 2,
        "webhook_secret": "${env:ZD_HOOK}",
        "requests_per_second": 500,
    },
    secrets=lambda zd: {"ZD_TOKEN": zd.token, "ZD_HOOK": zd.webhook_secret},
    change=_zendesk_change,
    delete=_zendesk_delete,
    webhook=_zendesk_webhook,
    secret_names=("ZD_TOKEN", "ZD_HOOK"),
    credential="settings.api_token",
)


# --- intercom ---------------------------------------------------------------------


def _intercom_change(ic: IntercomEmulator) -> str:
    conversation_id = sorted(ic.conversations)[0]
    ic.close(conversation_id, int(time.time()))
    return f"intercom-{conversation_id}"


def _intercom_webhook(ic: IntercomEmulator) -> tuple[str, str, dict[str, str], bytes]:
    item = ic.conversations[sorted(ic.conversations)[1]]
    body, headers = ic.signed(
        {"type": "notification_event", "topic": "conversation.admin.closed", "data": {"item": item}}
    )
    return "POST", "https://hub.example/webhooks/ic", headers, body


INTERCOM = Harness(
    type_name="intercom",
    open=lambda: IntercomEmulator(
        *generate_conversations(5), token="ic-t0ken-7f3a", client_secret="ic-s3cret-7f3a"
    ),
    settings=lambda ic: {
        "base_url": ic.url,
        "access_token": "${env:IC_TOKEN}",
        "page_size": 2,
        "webhook_secret": "${env:IC_SECRET}",
        "requests_per_second": 500,
    },
    secrets=lambda ic: {"IC_TOKEN": ic.token, "IC_SECRET": ic.client_secret},
    change=_intercom_change,
    webhook=_intercom_webhook,
    secret_names=("IC_TOKEN", "IC_SECRET"),
    credential="settings.access_token",
    why_no_deletes="Intercom's REST API has no conversation deletion to observe",
)


# --- salesforce -------------------------------------------------------------------


def _salesforce_change(sf: SalesforceEmulator) -> str:
    opportunity = sf.records["Opportunity"][2]
    newest = max(datetime.fromisoformat(r["SystemModstamp"]) for r in sf.records["Opportunity"])
    opportunity.update(StageName="Closed Won", IsClosed=True, IsWon=True)
    opportunity["SystemModstamp"] = sf_time(newest + timedelta(hours=1))
    return f"salesforce-opportunity-{opportunity['Id']}"


def _salesforce_delete(sf: SalesforceEmulator) -> tuple[str, str]:
    gone = sf.records["Opportunity"][4]["Id"]
    sf.delete("Opportunity", gone, datetime.now(UTC) - timedelta(minutes=5))
    return f"salesforce-opportunity-{gone}", "deal.deleted"


def _salesforce_age(cursor: dict[str, Any]) -> dict[str, Any]:
    """getDeleted is polled by window: an hour later, each object's window ended an hour ago."""
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return {**cursor, **{k: hour_ago for k in cursor if k.startswith("deleted:")}}


SALESFORCE = Harness(
    type_name="salesforce",
    open=lambda: SalesforceEmulator(
        generate_org(3, 6), client_secret="sf-s3cret-7f3a", refresh_token="sf-refr3sh-7f3a"
    ),
    settings=lambda sf: {
        "instance_url": sf.url,
        "token_url": f"{sf.url}/services/oauth2/token",
        "client_id": sf.client_id,
        "client_secret": "${env:SF_SECRET}",
        "refresh_token": "${env:SF_REFRESH}",
        "include_cases": True,
        "requests_per_second": 500,
    },
    secrets=lambda sf: {"SF_SECRET": sf.client_secret, "SF_REFRESH": sf.refresh_token},
    change=_salesforce_change,
    delete=_salesforce_delete,
    age_cursor=_salesforce_age,
    secret_names=("SF_SECRET", "SF_REFRESH"),
    credential="settings.refresh_token",
    why_no_webhooks="Salesforce pushes through outbound messages, which the hub does not take",
)


# --- hubspot ----------------------------------------------------------------------


def _hubspot_change(hs: HubSpotEmulator) -> str:
    deal = hs.crm["deals"][0]
    deal["properties"]["hs_lastmodifieddate"] = hs_time(datetime.now(UTC))
    deal["properties"]["dealname"] = "Renamed at the source"
    return f"hubspot-deal-{deal['id']}"


def _hubspot_delete(hs: HubSpotEmulator) -> tuple[str, str]:
    deal = hs.crm["deals"][1]
    hs.archive("deals", deal["id"], datetime.now(UTC))
    return f"hubspot-deal-{deal['id']}", "deal.deleted"


def _hubspot_webhook(hs: HubSpotEmulator) -> tuple[str, str, dict[str, str], bytes]:
    uri = "https://hub.example/webhooks/hs"
    notes = [{"subscriptionType": "deal.propertyChange", "objectId": int(hs.crm["deals"][2]["id"])}]
    body, headers = hs.signed(notes, uri, datetime.now(UTC))
    return "POST", uri, headers, body


HUBSPOT = Harness(
    type_name="hubspot",
    open=lambda: HubSpotEmulator(
        generate_crm(6, companies=2), token="hs-t0ken-7f3a", client_secret="hs-s3cret-7f3a"
    ),
    settings=lambda hs: {
        "base_url": hs.url,
        "access_token": "${env:HS_TOKEN}",
        "page_size": 2,
        "webhook_secret": "${env:HS_SECRET}",
        "requests_per_second": 500,
    },
    secrets=lambda hs: {"HS_TOKEN": hs.token, "HS_SECRET": hs.client_secret},
    change=_hubspot_change,
    delete=_hubspot_delete,
    webhook=_hubspot_webhook,
    secret_names=("HS_TOKEN", "HS_SECRET"),
    credential="settings.access_token",
)


# --- canonical_http ---------------------------------------------------------------

CANONICAL_NAME = "contract-canonical_http"


def _canonical_event(type_: str, key: str, change: str, **payload: Any) -> dict[str, Any]:
    return event_dict(
        type_,
        key,
        change,
        at=datetime.now(UTC),
        payload=payload,
        connector=CANONICAL_NAME,
        system="custom",
    )


def _canonical_open() -> CanonicalSource:
    events = [
        _canonical_event("work_item.created", f"IN-{n}", "created", title=f"Item {n}")
        for n in range(5)
    ]
    return CanonicalSource("canon-t0ken-7f3a", events)


def _canonical_change(source: CanonicalSource) -> str:
    source.events.append(
        _canonical_event(
            "work_item.status_changed", "IN-1", "s1", to_status="Doing", to_category="in_progress"
        )
    )
    return "IN-1"


def _canonical_delete(source: CanonicalSource) -> tuple[str, str]:
    source.events.append(_canonical_event("work_item.deleted", "IN-2", "gone"))
    return "IN-2", "work_item.deleted"


def _canonical_webhook(source: CanonicalSource) -> tuple[str, str, dict[str, str], bytes]:
    body = CanonicalSource.webhook_body(source.events[:2])
    headers = {"X-Hub-Signature": CanonicalSource.sign("canon-h00k-7f3a", body)}
    return "POST", "https://hub.example/webhooks/canon", headers, body


CANONICAL = Harness(
    type_name="canonical_http",
    open=_canonical_open,
    settings=lambda source: {
        "base_url": source.url,
        "token": "${env:CANON_TOKEN}",
        "page_size": 2,
        "webhook_secret": "${env:CANON_HOOK}",
        "requests_per_second": 500,
    },
    secrets=lambda source: {"CANON_TOKEN": source.token, "CANON_HOOK": "canon-h00k-7f3a"},
    change=_canonical_change,
    delete=_canonical_delete,
    webhook=_canonical_webhook,
    secret_names=("CANON_TOKEN", "CANON_HOOK"),
    credential="settings.token",
)

HARNESSES = (CANONICAL, JIRA, ZENDESK, INTERCOM, SALESFORCE, HUBSPOT)
