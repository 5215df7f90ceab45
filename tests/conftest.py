"""Fixtures: one embedded broker for the whole session, real sockets everywhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.topics import ensure_topics
from hub.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap servers of an embedded broker with the hub's topics created."""
    with EmbeddedBroker() as running:
        ensure_topics(running.bootstrap_servers, partitions=4, replication=1)
        yield running.bootstrap_servers
