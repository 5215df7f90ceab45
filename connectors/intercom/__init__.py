"""Intercom: conversations as customer requests, companies as customer accounts."""
