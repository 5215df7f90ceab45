"""``hub up``: one process tree with the broker (when embedded) and a worker.

The embedded broker keeps its log under ``HUB_DATA_DIR/log`` (``HUB_EMBEDDED_STORAGE``
durable, the default) or in memory; the data dir is locked for the run, so a second
``hub up`` on it refuses. The worker runs as a child so that a crash in it is restarted
without restarting the broker. Children are told by the kernel to stop if we die, so even
a SIGKILLed supervisor leaves no orphan; SIGINT/SIGTERM stop everything within seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Literal

import click
import structlog

from connectors.state import ConnectState
from core.errors import ConfigError
from core.runtime_files import (
    clear_broker_address,
    resolve_api_token,
    write_broker_address,
)
from core.settings import Settings
from core.topics import ensure_topics
from hub.backfill_display import BackfillDisplay
from hub.broker import EmbeddedBroker
from hub.catch_up import CatchUpWatch
from hub.compaction import COMPACTED, compact
from hub.console_relay import TerminalRelay
from hub.data_dir import DataDir
from hub.processes import die_with_parent

__all__ = ["Supervisor"]

log = structlog.get_logger(__name__)

# The embedded broker does not compact: the state topics are rewritten when they pass
# twice their size after the last rewrite (and this floor), checked this often.
COMPACT_ABOVE_BYTES = 64 * 2**20
COMPACTION_CHECK_SECONDS = 600.0
CHILD_STOP_GRACE = 7.0  # seconds; leaves room for the broker inside the 10 s promise
# The worker's own grace is longer: killed before its producer has flushed, it leaves a
# local store ahead of its changelog, and its next start must rebuild every table from the
# changelog (hub.worker.local_tables), minutes on a big log. An idle worker stops in ~2 s.
WORKER_STOP_GRACE = 60.0
RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


def _require_free_port(host: str, port: int) -> None:
    """Fail before starting anything, rather than restart a worker that can never bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot serve the API on {host}:{port} ({exc.strerror}); is another hub "
                "running? Set HUB_API_PORT to use another port"
            ) from None


class Supervisor:
    """``demo``: also run the demo's sources (``hub demo serve``) and start the worker and
    the connector runtime from the files they write, as a user would configure them."""

    def __init__(self, settings: Settings, demo_seed: int | None = None) -> None:
        self.settings = settings
        self.demo_seed = demo_seed
        self._stop = threading.Event()
        self._children: list[_Child] = []
        self._embedded: EmbeddedBroker | None = None
        self._compacted_bytes = 0  # the compacted topics' size after the last rewrite

    def request_stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        if not self._stop.is_set():
            log.info("stopping", signal=signal.Signals(signum).name)
        self._stop.set()

    @contextmanager
    def _broker(self) -> Iterator[str]:
        if self.settings.kafka_bootstrap_servers:
            yield self.settings.kafka_bootstrap_servers
            return
        durable = self.settings.durable_embedded_log
        data = DataDir(self.settings.data_dir)
        log.info(
            "starting embedded broker", log=str(data.log) if durable else "in memory: lost at stop"
        )
        with EmbeddedBroker(log_dir=data.log if durable else None) as broker:
            self._embedded = broker
            write_broker_address(self.settings, broker.bootstrap_servers)
            try:
                yield broker.bootstrap_servers
            finally:
                clear_broker_address(self.settings)

    def _child_env(self, bootstrap: str, token: str) -> dict[str, str]:
        env = {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HUB_API_TOKEN": token,
            "HUB_DATA_DIR": str(self.settings.data_dir),
            "HUB_LOG_FORMAT": self.settings.log_format,
        }
        if self.settings.embedded_broker:
            # Its end offsets can trail what a table already persisted, which Faust's
            # recovery check would take for lost data and crash the worker on.
            env["HUB_RECOVERY_CONSISTENCY_CHECK"] = "false"
        if self.settings.embedded_broker and not self.settings.durable_embedded_log:
            env["HUB_STORE"] = "memory://"  # a log kept in memory: tables kept nowhere else
        return env

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        with DataDir(self.settings.data_dir).open(self._log_kind()):  # locked for the run
            return self._run()

    def _log_kind(self) -> Literal["durable", "memory", "external"]:
        if not self.settings.embedded_broker:
            return "external"
        return "durable" if self.settings.durable_embedded_log else "memory"

    def _run(self) -> int:
        _require_free_port(self.settings.api_host, self.settings.api_port)
        token, token_file = resolve_api_token(self.settings)
        # the first thing people need: where to look, and how to sign in (never the token)
        where = str(token_file) if token_file else "HUB_API_TOKEN"
        click.echo(
            f"Dashboard: {self.settings.dashboard_url}  (sign in with the API token: {where})"
        )
        with self._broker() as bootstrap:
            ensure_topics(
                bootstrap, self.settings.topic_partitions, self.settings.topic_replication
            )
            self._compact(bootstrap)  # nothing reads or writes yet
            log.info(
                "hub starting",
                api=self.settings.api_url,
                auth=str(token_file) if token_file else "HUB_API_TOKEN",
                broker=bootstrap,
            )
            env = self._child_env(bootstrap, token)
            # bars drawn in place below: the children's lines must go above them, not under
            relay = BackfillDisplay.live_on(self.settings.log_format)
            children = []
            connect_args = self._connect_args()
            if self.demo_seed is not None:
                from demo.sources import demo_dir

                # the data dir outlives runs: an earlier run's file names its dead ports
                (demo_dir(self.settings.data_dir) / "ready.json").unlink(missing_ok=True)
                demo = _Child(
                    "demo", ["demo", "serve", "--seed", str(self.demo_seed)], env, relay=relay
                )
                demo.keep_alive()
                children.append(demo)
                files = self._wait_for_demo_files(demo)
                if files is None:
                    demo.terminate()
                    demo.wait_stopped()
                    return 1 if not self._stop.is_set() else 0
                env = {**env, "HUB_ALERTING_FILE": files["alerting"]}
                if self.settings.log_level == "info":
                    env["HUB_LOG_LEVEL"] = "warning"  # the demo narrates; keep the rest quiet
                connect_args = ["connect", "--config", files["connectors"]]
            if self._embedded is not None:
                # the embedded broker is this tree's alone: no other runtime can join, so
                # the connectors start at once instead of after the group's join delay
                connect_args = [*connect_args, "--solo"]
            connect_args = [*connect_args, "--no-progress"]  # this process shows it
            children += [
                _Child("worker", ["worker"], env, grace=WORKER_STOP_GRACE, relay=relay),
                _Child("connect", connect_args, env, relay=relay),
            ]
            self._children = children
            host = self.settings.api_host
            host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            watch = CatchUpWatch(f"http://{host}:{self.settings.api_port}/health").start()
            backfills = self._backfill_display(bootstrap)
            next_check = time.monotonic() + COMPACTION_CHECK_SECONDS
            while not self._stop.is_set():
                for child in children:
                    child.keep_alive()
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + COMPACTION_CHECK_SECONDS
                    if self._compaction_due():
                        self._pause_and_compact(bootstrap, children)
                self._stop.wait(0.2)
            watch.stop()
            backfills.stop()
            for child in children:
                child.terminate()
            for child in children:
                child.wait_stopped()
        log.info("hub stopped")
        return 0

    def _backfill_display(self, bootstrap: str) -> BackfillDisplay:
        """The connectors' backfills on this console, which the children share: the
        runtime's statuses, read from the status topic."""
        state = ConnectState()
        following = state.follow_in_background(bootstrap, "hub-up-progress")
        display = BackfillDisplay.for_console(lambda: state.status, self.settings.log_format)
        display.on_stop(following.stop)  # before the broker stops: no lost fetches logged
        return display.start()

    def _compact(self, bootstrap: str) -> None:
        """Rewrite the state topics to their latest values (the embedded broker does not
        compact; see ``hub.compaction``), and remember how big they are after."""
        broker = self._embedded
        if broker is None or broker.store is None:
            return
        compact(bootstrap)
        self._compacted_bytes = broker.topic_bytes([t.name for t in COMPACTED])

    def _compaction_due(self) -> bool:
        broker = self._embedded
        if broker is None or broker.store is None:
            return False
        size = broker.topic_bytes([t.name for t in COMPACTED])
        return size > max(COMPACT_ABOVE_BYTES, 2 * self._compacted_bytes)

    def _pause_and_compact(self, bootstrap: str, children: list[_Child]) -> None:
        """Stop the readers and writers of the compacted topics, rewrite them, resume."""
        log.info("pausing the worker and connectors to compact the state topics")
        started = time.monotonic()
        paused = [c for c in children if c.name in ("worker", "connect")]
        for child in paused:
            child.terminate()
        for child in paused:
            child.wait_stopped()
            child.process = None  # restarted by keep_alive, without a crash's backoff
        self._compact(bootstrap)
        log.info("resumed after compaction", seconds=round(time.monotonic() - started, 1))

    def _wait_for_demo_files(self, demo: _Child) -> dict[str, str] | None:
        from demo.sources import demo_dir

        ready = demo_dir(self.settings.data_dir) / "ready.json"
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            if ready.exists():
                return dict(json.loads(ready.read_text()))
            if demo.process is not None and demo.process.poll() is not None:
                log.error("the demo sources exited", status=demo.process.returncode)
                return None
            self._stop.wait(0.2)
        if not self._stop.is_set():
            log.error("the demo sources did not start within 60 s")
        return None

    def _connect_args(self) -> list[str]:
        path = self.settings.connectors_file
        if path is None and Path("connectors.yaml").exists():
            path = Path("connectors.yaml")
        return ["connect", *(["--config", str(path)] if path else [])]


class _Child:
    """A ``hub`` subcommand kept running: restarted with backoff when it exits."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        grace: float = CHILD_STOP_GRACE,
        *,
        relay: bool = False,
    ) -> None:
        """``relay``: the child writes to a pseudo-terminal whose lines this process
        copies to its own terminal (``hub.console_relay``), instead of to the terminal."""
        self.name, self.args, self.env, self.grace = name, args, env, grace
        self.relay = relay
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.restarts = 0
        self.not_before = 0.0

    def keep_alive(self) -> None:
        now = time.monotonic()
        if self.process is not None and self.process.poll() is None:
            if now - self.started > 60:
                self.restarts = 0
            return
        if self.process is not None:
            delay = RESTART_BACKOFF[min(self.restarts, len(RESTART_BACKOFF) - 1)]
            log.error(
                f"{self.name} exited; restarting", status=self.process.returncode, in_seconds=delay
            )
            self.restarts += 1
            self.not_before = now + delay
            self.process = None
        if now >= self.not_before:
            relay = TerminalRelay(self.name) if self.relay else None
            out = relay.child_fd if relay is not None else None
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub", *self.args],
                env=self.env,
                preexec_fn=die_with_parent,
                stdout=out,
                stderr=out,
            )
            if relay is not None:
                relay.start()
            self.started = now

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(self.grace)
        except subprocess.TimeoutExpired:
            log.warning(f"{self.name} did not stop in time; killing it")
            self.process.kill()
            self.process.wait()
