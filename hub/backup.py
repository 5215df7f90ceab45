"""``hub backup FILE`` and ``hub restore FILE``: the whole log in one archive, and back.

The archive is gzip'd JSON lines: a header naming every hub topic (partitions, whether
compacted), one line per record (topic, partition, key, value, timestamp, headers), and
a trailer with the record count, so a truncated archive is refused rather than restored
in part. It holds the hub's own topics — events, roadmap, alerting, connector state, dead
letters — and not the worker's tables, which are rebuilt from the log.

Consistent: the state topics are read before the event topics, so no restored connector
cursor points past the events it produced (a restart re-pulls at most, and the repeats
fold once), and nothing else in the log refers forward. Restoring writes each record to
its own partition in its order, into an empty embedded broker or an Apache Kafka
cluster; a target that already holds hub records is refused unless ``replace`` is given,
which deletes and recreates the hub topics first.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from core.errors import ConfigError
from core.events import iso, utcnow
from core.log_reader import record_copies
from core.publish import RecordCopy, SyncPublisher
from core.runtime_files import read_broker_address
from core.settings import Settings
from core.topics import (
    ALERTING,
    CONNECT_ASSIGNMENTS,
    CONNECT_CONFIGS,
    CONNECT_OFFSETS,
    CONNECT_STATUS,
    CUSTOMERS,
    DEADLETTER,
    ROADMAP,
    TOPICS,
    WORKITEMS,
    ensure_topics,
    list_topics,
    recreate_topic,
)
from hub.broker import EmbeddedBroker
from hub.data_dir import DataDir

__all__ = ["ARCHIVE_FORMAT", "Summary", "backup", "log_for_tools", "restore", "verify"]

log = structlog.get_logger(__name__)

ARCHIVE_FORMAT = "product-ops-hub-backup/1"
# State first: what refers to the events (cursors, alert states) is never newer than them.
ORDER = (
    CONNECT_CONFIGS,
    CONNECT_OFFSETS,
    CONNECT_STATUS,
    ALERTING,
    ROADMAP,
    WORKITEMS,
    CUSTOMERS,
    DEADLETTER,
)
# hub.connect-assignments holds no records (its partitions are what the runtimes share)
NOT_BACKED_UP = (CONNECT_ASSIGNMENTS,)
assert {t.name for t in (*ORDER, *NOT_BACKED_UP)} == {t.name for t in TOPICS}, (
    "every hub topic is backed up"
)


@dataclass(frozen=True)
class Summary:
    """How many records of each topic an archive holds (or a restore wrote)."""

    records: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.records.values())


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


def _unb64(text: str | None) -> bytes | None:
    return base64.b64decode(text) if text is not None else None


def _records(bootstrap: str, topic: str, idle: float) -> Iterator[dict[str, Any]]:
    """Every record of ``topic`` as an archive line, partition by partition, until it has
    been quiet ``idle`` seconds (reported end offsets are not trusted: not every broker
    reports them exactly)."""
    for _, r in record_copies(bootstrap, topic, client_id="hub-backup", idle=idle):
        yield {
            "t": topic,
            "p": r.partition,
            "k": _b64(r.key),
            "v": _b64(r.value),
            "ts": r.timestamp_ms,
            "h": [[name, _b64(value)] for name, value in r.headers],
        }


def backup(bootstrap: str, archive: Path, *, idle: float = 1.0) -> Summary:
    """Write every hub topic to ``archive`` (written aside, then moved into place)."""
    partitions = list_topics(bootstrap)
    missing = [t.name for t in ORDER if t.name not in partitions]
    if missing:
        raise ConfigError(f"not a hub log: topics {', '.join(missing)} are missing")
    counts = {t.name: 0 for t in ORDER}
    partial = archive.with_name(archive.name + ".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as out:
        header = {
            "format": ARCHIVE_FORMAT,
            "created_at": iso(utcnow()),
            "topics": {
                t.name: {"partitions": partitions[t.name], "compacted": t.compacted} for t in ORDER
            },
        }
        out.write(json.dumps(header) + "\n")
        for topic in ORDER:
            for record in _records(bootstrap, topic.name, idle):
                out.write(json.dumps(record, separators=(",", ":")) + "\n")
                counts[topic.name] += 1
            log.info("backed up", topic=topic.name, records=counts[topic.name])
        out.write(json.dumps({"end": True, "records": counts}) + "\n")
    partial.replace(archive)
    return Summary(counts)


def _read_archive(archive: Path) -> Iterator[dict[str, Any]]:
    """The archive's header (checked), then its lines."""
    try:
        with gzip.open(archive, "rt", encoding="utf-8") as handle:
            header = json.loads(handle.readline())
            if not isinstance(header, dict) or header.get("format") != ARCHIVE_FORMAT:
                found = header.get("format") if isinstance(header, dict) else None
                raise ConfigError(f"{archive} is not a hub backup ({found!r})")
            yield header
            for line in handle:
                yield json.loads(line)
    except (OSError, ValueError, EOFError) as exc:
        raise ConfigError(f"{archive} is not a hub backup, or is damaged: {exc}") from None


def verify(archive: Path) -> Summary:
    """Read the archive whole; refuse one cut short (no trailer, or counts that differ)."""
    rows = _read_archive(archive)
    next(rows)
    counts: dict[str, int] = {}
    try:
        for row in rows:
            if row.get("end"):
                if row["records"] != {k: counts.get(k, 0) for k in row["records"]}:
                    raise ConfigError(f"{archive} is damaged: its record counts do not add up")
                return Summary(row["records"])
            counts[row["t"]] = counts.get(row["t"], 0) + 1
    except (OSError, EOFError, ValueError) as exc:
        raise ConfigError(f"{archive} is damaged or cut short: {exc}") from None
    raise ConfigError(f"{archive} is cut short: it has no end")


def _holds_hub_records(bootstrap: str) -> list[str]:
    present = list_topics(bootstrap)
    return [
        t.name for t in ORDER if t.name in present and next(_records(bootstrap, t.name, 1.0), None)
    ]


def restore(
    bootstrap: str,
    archive: Path,
    *,
    replace: bool = False,
    partitions: int = 4,
    replication: int = 1,
) -> Summary:
    """Write the archive's records into the broker at ``bootstrap``; topics the archive
    does not have are created with ``partitions`` and ``replication``, as ``hub up`` would."""
    expected = verify(archive)
    occupied = _holds_hub_records(bootstrap)
    if occupied and not replace:
        raise ConfigError(
            f"the target already holds hub records ({', '.join(occupied)}); restore into an "
            "empty one, or pass --replace to delete them first"
        )
    rows = _read_archive(archive)
    header = next(rows)
    _recreate(bootstrap, header, delete=bool(occupied), replication=replication)
    ensure_topics(bootstrap, partitions, replication)
    counts = {name: 0 for name in header["topics"]}

    def copies() -> Iterator[RecordCopy]:
        for row in rows:
            if row.get("end"):
                return
            counts[row["t"]] += 1
            yield RecordCopy(
                topic=row["t"],
                partition=row["p"],
                key=_unb64(row["k"]),
                value=_unb64(row["v"]),
                timestamp_ms=row["ts"],
                headers=[(n, _unb64(v) or b"") for n, v in row["h"]],
            )

    with SyncPublisher(bootstrap, origin="restore", client_id="hub-restore") as publisher:
        publisher.copy(copies())
    if counts != expected.records:
        raise ConfigError(f"restored {counts}, but the archive holds {expected.records}")
    return Summary(counts)


def _recreate(bootstrap: str, header: dict[str, Any], *, delete: bool, replication: int) -> None:
    """The archive's topics with its partition counts: each one missing, or every one when
    replacing (deleted first)."""
    present = list_topics(bootstrap)
    for name, spec in header["topics"].items():
        if delete or name not in present:
            recreate_topic(
                bootstrap, name, spec["partitions"], replication, compacted=spec["compacted"]
            )


@contextmanager
def log_for_tools(settings: Settings) -> Iterator[str]:
    """The broker a one-shot tool reads or writes: the configured one, the running hub's,
    or — with neither — the embedded broker started on the data dir for the duration."""
    if settings.kafka_bootstrap_servers:
        yield settings.kafka_bootstrap_servers
        return
    running = read_broker_address(settings)
    if running:
        yield running
        return
    durable = settings.durable_embedded_log
    if not durable:
        raise ConfigError(
            "no broker: the embedded log is in memory (HUB_EMBEDDED_STORAGE=memory), so only "
            "a running hub has one; start it with `hub up`, or set HUB_KAFKA_BOOTSTRAP_SERVERS"
        )
    data = DataDir(settings.data_dir).open("durable")
    with data, EmbeddedBroker(log_dir=data.log) as broker:
        yield broker.bootstrap_servers
