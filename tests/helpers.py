"""Shared test helpers: running hub processes and talking to their API over real sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from core.events import make_event_id
from core.topics import ensure_topics
from emulators.http_server import EmulatorServer
from hub.broker import EmbeddedBroker, free_port

__all__ = [
    "HubProcess",
    "event_dict",
    "write_jsonl",
    "descendants",
    "hub_cli",
    "alerting_config",
    "posted",
    "own_broker",
    "metric_total",
    "poll",
    "start_demo",
]


def event_dict(
    type_: str,
    key: str,
    change: str,
    *,
    at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    kind: str | None = None,
    connector: str = "test",
    system: str = "jira",
) -> dict[str, Any]:
    """A canonical event as JSON-ready dict, with a deterministic id."""
    kind = kind or type_.partition(".")[0]
    at = at or datetime(2026, 1, 5, 9, tzinfo=UTC)
    return {
        "type": type_,
        "event_id": make_event_id(connector, kind, key, change, type_),
        "source": {"system": system, "connector": connector},
        "entity": {"kind": kind, "key": key},
        "occurred_at": at.isoformat(),
        "payload": payload or {},
    }


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class HubProcess:
    """A ``hub`` subcommand in its own process, with its own data dir, port and token."""

    def __init__(
        self,
        args: list[str],
        data_dir: Path,
        port: int,
        *,
        bootstrap: str | None = None,
        token: str = "test-token",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.token = token
        self.data_dir = data_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(
            {
                "HUB_DATA_DIR": str(data_dir),
                "HUB_API_PORT": str(port),
                "HUB_API_TOKEN": token,
                "HUB_LOG_FORMAT": "json",
                "HUB_STORE": "memory://",
                # durability has its own tests (tests/e2e/test_durable_log.py); the rest
                # runs on the in-memory log, as a throwaway demo would
                "HUB_EMBEDDED_STORAGE": "memory",
                "HUB_RECOVERY_CONSISTENCY_CHECK": "false",  # the embedded broker's end offsets
                "HUB_APP_ID": f"test-{uuid.uuid4().hex[:8]}",
            }
        )
        if bootstrap:
            env["HUB_KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        env.update(extra_env or {})
        self.log_path = data_dir / f"{args[0]}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, *, token: str | None = "default", **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        return requests.get(self.url + path, headers=headers, timeout=10, **kw)

    def wait_healthy(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hub exited early:\n{self.log()}")
            try:
                response = self.get("/health", token=None)
                last = response.text
                body = response.json()
                if response.status_code == 200 and body["worker"]["state"] == "running":
                    return dict(body)
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.3)
        raise AssertionError(f"not healthy in {timeout}s: {last}\n{self.log()}")

    def wait_for(self, path: str, predicate: Any = None, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            response = self.get(path)
            last = (response.status_code, response.text)
            if response.status_code == 200 and (predicate is None or predicate(response.json())):
                return response.json()
            time.sleep(0.3)
        raise AssertionError(f"{path} never matched: {last}\n{self.log()[-3000:]}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> float:
        """Signal and wait; returns how long the stop took."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(
                    f"did not stop within {timeout}s\n{self.log()[-3000:]}"
                ) from None
        self._log.close()
        return time.monotonic() - started

    def __enter__(self) -> HubProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


def hub_cli(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``hub ARGS`` as a user would, with only ``env`` (no inherited HUB_* settings)."""
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def alerting_config(path: Path, url: str, **extra: Any) -> Path:
    """alerting.yaml for tests: quick timers, every alert to a webhook at ``url``/alerts."""
    config = {
        "evaluation_interval": "1s",
        "route": {
            "receiver": "product",
            "group_by": ["alertname", "team"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "product", "webhook_configs": [{"url": url + "/alerts"}]}],
        "rules": {"wip_over_limit": {"for": "2s"}},
        **extra,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def posted(server: EmulatorServer, team: str) -> list[tuple[str, list[str]]]:
    """(status, [alert statuses]) of every webhook about ``team``, in arrival order."""
    found = []
    for request in list(server.requests):
        body = request.json()
        if body["commonLabels"].get("team") == team:
            found.append((body["status"], [a["status"] for a in body["alerts"]]))
    return found


@contextmanager
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker for one test: faults on it (or its topics) touch nothing else."""
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap_servers, partitions=4, replication=1)
        yield broker


def metric_total(hub: HubProcess, name: str) -> float:
    """A Prometheus counter of a running hub process, summed over its labels."""
    text = hub.get("/metrics", token=None).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")
    )


def poll(check: Callable[[], Any], timeout: float, what: str, *logs: Path) -> Any:
    """``check()``'s first truthy answer within ``timeout``; else fail with the logs' tails."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (requests.RequestException, ValueError, KeyError) as exc:
            last = exc
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in logs if p.exists())
    raise AssertionError(f"{what} not seen in {timeout}s ({last})\n{tails}")


def start_demo(root: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """``hub up --demo`` on a fresh data directory under ``root``; its process and log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_API_PORT": str(port),
            "HUB_DATA_DIR": str(root / "data"),
            "HUB_EMBEDDED_STORAGE": "memory",  # not under test here
        }
    )
    log = root / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", "up", "--demo"],
            env=env,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, log


@dataclass
class DemoHub:
    """A running ``hub up --demo``: where it answers, its token, data dir and log."""

    base: str
    token: str
    data: Path
    log: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {**self.auth, **kw.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kw)


@contextmanager
def running_demo(
    root: Path, *, firing: int, health_timeout: float, firing_timeout: float
) -> Iterator[DemoHub]:
    """``hub up --demo`` under ``root`` until ``firing`` alerts fire (its backfill done);
    at the end the whole process tree is stopped, stragglers killed."""
    port = free_port()
    process, log = start_demo(root, port)
    base = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: requests.get(base + "/health", timeout=3).ok, health_timeout, "health", log)
        hub = DemoHub(base, (root / "data" / "api-token").read_text().strip(), root / "data", log)
        poll(
            lambda: len(hub.api("GET", "/api/v1/alerts?state=firing").json()["items"]) >= firing,
            firing_timeout,
            "firing alerts",
            log,
        )
        yield hub
    finally:
        children = descendants(process.pid)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        for child in children:
            with suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
