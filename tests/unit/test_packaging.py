"""What ships: docker-compose for production, the console script, CI running the README's command."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_kafka_in_kraft_mode_with_a_volume() -> None:
    """Production Kafka is Apache Kafka, KRaft (no ZooKeeper), its log on a named volume."""
    compose = _compose()
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert "zookeeper" not in str(compose).lower()
    volume = kafka["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_compose_hub_services_are_configured_by_environment() -> None:
    """Worker (scalable: no fixed port or name), API and topic setup all point at Kafka."""
    services = _compose()["services"]
    for name in ("topics", "worker", "api", "connect"):
        env = services[name]["environment"]
        assert env["HUB_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env["HUB_API_TOKEN_FILE"] == "/run/secrets/hub_api_token", "a mounted secret"
        assert "HUB_API_TOKEN" not in env, "never the token itself in the environment"
        assert "image" in services[name]
    worker = services["worker"]
    assert "ports" not in worker and "container_name" not in worker
    assert worker["command"] == ["worker"]
    assert services["api"]["ports"]
    assert services["connect"]["command"] == ["connect"]
    assert services["connect"]["environment"]["HUB_CONNECTORS_FILE"].endswith("connectors.yaml")
    assert (
        services["worker"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    )


def test_console_script_and_ci_use_the_project_files() -> None:
    """``hub`` is the console script; .ci/run runs exactly the README's test command."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["hub"] == "hub.cli:main"
    readme = (ROOT / "README.md").read_text()
    test_command = re.search(r"```(?:sh|bash)?\n(.*?)\n```", readme.split("## ")[0] + readme, re.S)
    assert test_command
    assert "make test" in readme.split("\n## ")[0]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
