"""The state topics stay small on the durable embedded broker, which does not compact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.publish import RecordCopy, SyncPublisher
from core.topics import CONNECT_STATUS, ensure_topics, list_topics, read_topic
from hub.broker import EmbeddedBroker
from hub.compaction import MARKER, STAGING_SUFFIX, compact


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(log_dir=tmp_path / "log") as broker:
        ensure_topics(broker.bootstrap_servers, partitions=2, replication=1)
        yield broker


def _status_history(bootstrap: str, rounds: int) -> None:
    """What a connector runtime writes all day: each connector's status, over and over;
    one connector deleted (a tombstone)."""
    with SyncPublisher(bootstrap, origin="test") as out:
        for n in range(rounds):
            out.publish(
                (CONNECT_STATUS.name, f"c{k}", json.dumps({"round": n, "pad": "x" * 400}).encode())
                for k in range(5)
            )
        out.publish([(CONNECT_STATUS.name, "c4", None)])


def test_a_state_topic_is_rewritten_to_its_latest_values_and_its_disk_freed(
    durable: EmbeddedBroker,
) -> None:
    """3,000 status records for 5 connectors (one deleted) become the 4 latest, in the
    order they were written, and the topic's bytes on disk shrink accordingly."""
    bootstrap = durable.bootstrap_servers
    _status_history(bootstrap, 600)
    before = durable.topic_bytes([CONNECT_STATUS.name])
    done = compact(bootstrap)
    after = durable.topic_bytes([CONNECT_STATUS.name])
    assert [(c.topic, c.before, c.after) for c in done] == [(CONNECT_STATUS.name, 3001, 4)]
    rows = read_topic(bootstrap, CONNECT_STATUS.name)
    assert [(k, json.loads(v)["round"]) for k, v in rows] == [
        (b"c0", 599), (b"c1", 599), (b"c2", 599), (b"c3", 599),
    ]  # fmt: skip
    assert after < before / 100
    assert not [t for t in list_topics(bootstrap) if t.endswith(STAGING_SUFFIX)]
    assert compact(bootstrap) == []  # nothing left to gain


def test_a_rewrite_cut_short_is_finished_or_dropped_at_the_next_start(
    durable: EmbeddedBroker,
) -> None:
    """Staged and marked complete, then the original deleted (a crash in between): the next
    compaction restores the latest values from the staging topic. Staged without the
    marker: the original is untouched and the staging topic goes."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    bootstrap = durable.bootstrap_servers
    staging = CONNECT_STATUS.name + STAGING_SUFFIX
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(staging, 1, 1)])
    with SyncPublisher(bootstrap, origin="test") as out:
        out.copy(
            [
                RecordCopy(staging, 0, b"c0", b'{"round": 7}', 1),
                RecordCopy(staging, 0, MARKER, b"1", 2),
            ]
        )
    admin.delete_topics([CONNECT_STATUS.name])  # the crash came after this
    admin.close()
    compact(bootstrap)
    assert read_topic(bootstrap, CONNECT_STATUS.name) == [(b"c0", b'{"round": 7}')]
    assert staging not in list_topics(bootstrap)

    _status_history(bootstrap, 2)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(staging, 1, 1)])
    admin.close()
    with SyncPublisher(bootstrap, origin="test") as out:
        out.copy([RecordCopy(staging, 0, b"c0", b"half", 1)])  # no marker: cut short
    kept = read_topic(bootstrap, CONNECT_STATUS.name)
    compact(bootstrap, min_garbage=10_000)
    assert read_topic(bootstrap, CONNECT_STATUS.name) == kept
    assert staging not in list_topics(bootstrap)
