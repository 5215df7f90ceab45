"""Connector types by name. Imported lazily so one broken connector cannot break the rest."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.base import Connector

__all__ = ["connector_types", "TYPES"]

# type name -> "module:Class"
TYPES = {
    "canonical_http": "connectors.canonical_http.connector:CanonicalHttpConnector",
    "jira": "connectors.jira.connector:JiraConnector",
    "zendesk": "connectors.zendesk.connector:ZendeskConnector",
    "intercom": "connectors.intercom.connector:IntercomConnector",
    "salesforce": "connectors.salesforce.connector:SalesforceConnector",
    "hubspot": "connectors.hubspot.connector:HubSpotConnector",
}


def connector_types() -> dict[str, type[Connector]]:
    found = {}
    for name, target in TYPES.items():
        module, _, attr = target.partition(":")
        found[name] = getattr(import_module(module), attr)
    return found
