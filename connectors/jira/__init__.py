"""Jira Cloud (REST v3) and Data Center (REST v2): work items with their full status history."""

from connectors.jira.connector import JiraConnector, JiraSettings

__all__ = ["JiraConnector", "JiraSettings"]
