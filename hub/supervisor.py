"""``hub up``: one process tree with the broker (when embedded) and a worker.

The worker runs as a child so that a crash in it is restarted without losing the
in-memory embedded broker. Children are told by the kernel to stop if we die, so even a
SIGKILLed supervisor leaves no orphan; SIGINT/SIGTERM stop everything within seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import structlog

from hub.broker import EmbeddedBroker
from hub.errors import ConfigError
from hub.processes import die_with_parent
from hub.runtime_files import (
    clear_broker_address,
    resolve_api_token,
    write_broker_address,
)
from hub.settings import Settings
from hub.topics import ensure_topics

__all__ = ["Supervisor"]

log = structlog.get_logger(__name__)

WORKER_STOP_GRACE = 7.0  # seconds; leaves room for the broker inside the 10 s promise
RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


def _require_free_port(host: str, port: int) -> None:
    """Fail before starting anything, rather than restart a worker that can never bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot serve the API on {host}:{port} ({exc.strerror}); is another hub "
                "running? Set HUB_API_PORT to use another port"
            ) from None


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._worker: subprocess.Popen[bytes] | None = None

    def request_stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        if not self._stop.is_set():
            log.info("stopping", signal=signal.Signals(signum).name)
        self._stop.set()

    @contextmanager
    def _broker(self) -> Iterator[str]:
        if self.settings.kafka_bootstrap_servers:
            yield self.settings.kafka_bootstrap_servers
            return
        log.info("starting embedded broker")
        with EmbeddedBroker() as broker:
            write_broker_address(self.settings, broker.bootstrap_servers)
            # The embedded broker keeps nothing across runs; local table state would lie.
            shutil.rmtree(self.settings.data_dir / "worker", ignore_errors=True)
            try:
                yield broker.bootstrap_servers
            finally:
                clear_broker_address(self.settings)

    def _spawn_worker(self, bootstrap: str, token: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HUB_API_TOKEN": token,
            "HUB_DATA_DIR": str(self.settings.data_dir),
            "HUB_LOG_FORMAT": self.settings.log_format,
        }
        if self.settings.embedded_broker:
            # The embedded broker keeps nothing across runs, so neither should the tables;
            # and its end offsets can trail what a local RocksDB already persisted.
            env["HUB_STORE"] = "memory://"
        return subprocess.Popen(
            [sys.executable, "-m", "hub", "worker"], env=env, preexec_fn=die_with_parent
        )

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        _require_free_port(self.settings.api_host, self.settings.api_port)
        token, token_file = resolve_api_token(self.settings)
        with self._broker() as bootstrap:
            ensure_topics(
                bootstrap, self.settings.topic_partitions, self.settings.topic_replication
            )
            log.info(
                "hub starting",
                api=self.settings.api_url,
                auth=str(token_file) if token_file else "HUB_API_TOKEN",
                broker=bootstrap,
            )
            restarts = 0
            while not self._stop.is_set():
                self._worker = self._spawn_worker(bootstrap, token)
                started = time.monotonic()
                while not self._stop.is_set() and self._worker.poll() is None:
                    self._stop.wait(0.2)
                if self._stop.is_set():
                    break
                if time.monotonic() - started > 60:
                    restarts = 0
                delay = RESTART_BACKOFF[min(restarts, len(RESTART_BACKOFF) - 1)]
                log.error(
                    "worker exited; restarting", status=self._worker.returncode, in_seconds=delay
                )
                restarts += 1
                self._stop.wait(delay)
            self._stop_worker()
        log.info("hub stopped")
        return 0

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None or worker.poll() is not None:
            return
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(WORKER_STOP_GRACE)
        except subprocess.TimeoutExpired:
            log.warning("worker did not stop in time; killing it")
            worker.kill()
            worker.wait()
