"""Zendesk Support: tickets as customer requests, with their real status history."""
