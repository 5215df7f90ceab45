"""The production stack runs, proven without Docker: the image's package, built from exactly
the Docker build context, runs every docker-compose service's command with that service's
environment and mounted secrets, as local processes on the embedded broker.

What Docker would add (the base image, the network) is not under test; what the hub
brings to it is: the package is whole, the services start, the secrets reach the
processes that use them and no others, and three workers plus the API share the work.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from emulators.jira import JiraEmulator, generate_project
from hub.broker import free_port
from tests.helpers import own_broker, poll

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]


def docker_context(root: Path) -> list[Path]:
    """The files ``docker build .`` sends, after .dockerignore (its patterns, ``**`` too)."""
    patterns = [
        line.strip().lstrip("/")
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not used here"

    def ignored(relative: str) -> bool:
        parts = relative.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        for pattern in patterns:
            bare = pattern.removeprefix("**/")
            for prefix in prefixes:
                if fnmatch.fnmatchcase(prefix, pattern):
                    return True
                if pattern.startswith("**/") and fnmatch.fnmatchcase(prefix.split("/")[-1], bare):
                    return True
        return False

    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [root / f for f in tracked if (root / f).is_file() and not ignored(f)]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the package built from the Docker context alone (the
    third-party dependencies come from the project's environment, as a layer would)."""
    work = tmp_path_factory.mktemp("image")
    context = work / "context"
    for path in docker_context(ROOT):
        target = context / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            str(context),
            "-w",
            str(work / "dist"),
        ],
        check=True,
        cwd=work,
    )
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    deps = sysconfig.get_paths()["purelib"]  # this environment's site-packages, exactly
    (site / "project-deps.pth").write_text(deps + "\n")
    wheel = next((work / "dist").glob("*.whl"))
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
    )
    return venv


def test_the_image_holds_every_package_the_services_import(image: Path, tmp_path: Path) -> None:
    """Every package of ours imports from the installed wheel, not from the source tree."""
    probe = subprocess.run(
        [
            str(image / "bin" / "python"),
            "-c",
            "import json, core, connectors, projections, alerts, hub, demo, emulators\n"
            "from hub.wiring import create_worker\n"
            "print(json.dumps({m.__name__: m.__file__ for m in "
            "(core, connectors, projections, alerts, hub, demo, emulators)}))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    for name, where in json.loads(probe.stdout).items():
        assert str(image) in where and str(ROOT) not in where, (name, where)


_VARIABLE = re.compile(r"\$\{([A-Z_0-9]+)(?::?([-?])([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}; a missing required one fails."""

    def replace(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise AssertionError(f"compose requires {name}: {rest}")
        return rest or ""

    return _VARIABLE.sub(replace, value)


class Service:
    """One compose service run as a local process: its command, environment and secrets,
    with the container paths it mounts (/run/secrets, /config) mapped into ``root``."""

    def __init__(
        self,
        name: str,
        spec: dict[str, Any],
        root: Path,
        image: Path,
        overrides: dict[str, str],
        outer: dict[str, str],
        secrets_dir: Path,
    ) -> None:
        self.name, self.root = name, root
        root.mkdir(parents=True, exist_ok=True)
        mounts = root / "mnt"
        for secret in spec.get("secrets") or []:  # only what this service mounts
            target = mounts / "run" / "secrets" / secret
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(secrets_dir / secret, target)
        for volume in spec.get("volumes") or []:
            if isinstance(volume, dict) and volume.get("type") == "bind":
                source = secrets_dir.parent / Path(volume["source"]).name
                assert source.exists(), f"{name} mounts {volume['source']}, which must exist"
                target = mounts / volume["target"].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        for key, value in (spec.get("environment") or {}).items():
            text = interpolate(str(value), outer)
            if text.startswith("/config/"):  # a bind mount: the file at its local place
                text = f"{mounts}{text}"
            env[key] = text
        env.update(overrides)
        self.env = env
        # /run/secrets is the container's own: a private mount namespace gives this process
        # exactly the secrets the service mounts, at the path the configs name.
        secrets = mounts / "run" / "secrets"
        secrets.mkdir(parents=True, exist_ok=True)
        script = f'mount -t tmpfs hub-run /run && mkdir /run/secrets && mount --bind {secrets} /run/secrets && exec "$@"'
        self.command = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            str(image / "bin" / "hub"),
            *spec["command"],
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / f"{name}.log"

    def start(self) -> Service:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=self.root, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def run(self, timeout: float = 60) -> None:
        """A job (topics ensure): run to completion, successfully."""
        done = subprocess.run(
            self.command,
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextmanager
def stack(image: Path, root: Path, bootstrap: str, jira: JiraEmulator) -> Iterator[dict[str, Any]]:
    """Every compose service but Kafka (the embedded broker stands in for it)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    secrets_dir = root / "secrets"
    secrets_dir.mkdir(parents=True)
    values = {
        "hub_api_token": "stack-t0ken",
        "jira_api_token": jira.token,
        "jira_webhook_secret": jira.webhook_secret,
    }
    for name in compose["secrets"]:
        (secrets_dir / name).write_text(values.get(name, f"unused-{name}"))
    shutil.copy(ROOT / "alerting.example.yaml", root / "alerting.yaml")
    (root / "connectors.yaml").write_text(
        yaml.safe_dump(
            {
                "connectors": [
                    {
                        "name": "jira-prod",
                        "type": "jira",
                        "poll_interval": "1s",
                        "settings": {
                            "base_url": jira.url,
                            "flavor": "cloud",
                            "email": jira.email,
                            "api_token": "${file:/run/secrets/jira_api_token}",
                            "webhook_secret": "${file:/run/secrets/jira_webhook_secret}",
                            "requests_per_second": 200,
                        },
                    }
                ]
            }
        )
    )
    api_port = free_port()
    outer = {
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        "HUB_TOPIC_PARTITIONS": "4",
        "KAFKA_CLUSTER_ID": "test",
    }
    app_id = f"stack-{uuid.uuid4().hex[:6]}"

    def service(name: str, label: str, port: int | None = None) -> Service:
        overrides = {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HUB_APP_ID": app_id,
            "HUB_RECOVERY_CONSISTENCY_CHECK": "false",
            "HUB_DATA_DIR": str(root / label / "data"),
            "HUB_LOG_FORMAT": "json",
            "HUB_API_HOST": "127.0.0.1",
        }
        if port:
            overrides["HUB_API_PORT"] = str(port)
        return Service(
            name, compose["services"][name], root / label, image, overrides, outer, secrets_dir
        )

    service("topics", "topics").run()
    with ExitStack() as stop:
        workers = {f"worker-{n}": service("worker", f"worker-{n}", free_port()) for n in (1, 2, 3)}
        api = service("api", "api", api_port)
        connect = service("connect", "connect")
        for s in (*workers.values(), api, connect):
            stop.callback(s.stop)
            s.start()
        yield {
            "workers": workers,
            "api": api,
            "connect": connect,
            "token": "stack-t0ken",
            "api_port": api_port,
            "ports": {n: int(s.env["HUB_API_PORT"]) for n, s in workers.items()},
        }


def test_the_compose_topology_runs_shares_the_work_and_survives_a_lost_worker(
    image: Path, tmp_path: Path
) -> None:
    """topics once; three workers and the API answer the same; the connect runtime syncs
    with its mounted credentials; webhooks verify with the mounted secret on the API; a
    stopped worker's partitions move on and no change is lost."""
    issues = generate_project(24, project="PRD", histories_per_issue=2, seed=3)
    with (
        own_broker() as broker,
        JiraEmulator(issues, token="jira-prod-t0ken", webhook_secret="jira-prod-h00k") as jira,
    ):
        with stack(image, tmp_path, broker.bootstrap_servers, jira) as running:
            auth = {"Authorization": f"Bearer {running['token']}"}
            logs = [
                s.log for s in (*running["workers"].values(), running["api"], running["connect"])
            ]
            ports = {**running["ports"], "api": running["api_port"]}

            def keys(port: int) -> list[str]:
                body = requests.get(
                    f"http://127.0.0.1:{port}/api/v1/workitems?limit=1000", headers=auth, timeout=10
                ).json()
                return sorted(i["key"] for i in body["items"])

            expected = sorted(i["key"] for i in issues)
            for name, port in ports.items():
                poll(lambda p=port: keys(p) == expected, 120, f"{name} answering", *logs)

            # The connect runtime read its credentials from its own mounted secret, and the
            # webhook secret is not among its mounts (only the workers verify webhooks).
            assert not (
                tmp_path / "connect" / "mnt" / "run" / "secrets" / "jira_webhook_secret"
            ).exists()  # and so the API verifying a webhook proves the API has its own
            assert (tmp_path / "api" / "mnt" / "run" / "secrets" / "jira_webhook_secret").exists()

            key = issues[0]["key"]
            at = datetime.now(UTC)
            jira.transition(key, "In Progress", at)
            history = jira.issues[key]["changelog"]["histories"][-1]
            body, headers = jira.webhook("jira:issue_updated", key, history, at)
            hook = f"http://127.0.0.1:{running['api_port']}/webhooks/jira-prod"
            assert requests.post(hook, data=body, headers=headers, timeout=15).status_code == 200
            forged = {**headers, "X-Hub-Signature": "sha256=" + "0" * 64}
            assert requests.post(hook, data=body, headers=forged, timeout=15).status_code == 401

            running["workers"]["worker-1"].stop()
            survivors = {n: p for n, p in ports.items() if n != "worker-1"}
            second = issues[1]["key"]
            jira.transition(second, "In Progress", datetime.now(UTC))  # pulled on the next poll

            def stage(port: int, item: str) -> str:
                return requests.get(
                    f"http://127.0.0.1:{port}/api/v1/workitems/{item}", headers=auth, timeout=10
                ).json()["stage"]

            for name, port in survivors.items():
                poll(
                    lambda p=port: (
                        stage(p, key) == "in_progress" and stage(p, second) == "in_progress"
                    ),
                    120,
                    f"{name} seeing both changes",
                    *logs,
                )
                assert keys(port) == expected
