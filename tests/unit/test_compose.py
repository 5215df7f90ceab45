"""docker-compose.yml as an operator meets it: valid against the Compose Specification's own
JSON schema, secrets as files in exactly the services that use them, nothing left to chance."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "vendor" / "compose-spec" / "compose-spec.json"
FILE_REFERENCE = re.compile(r"\$\{file:/run/secrets/([a-z_0-9]+)\}")


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.kafka-3.yml"])
def test_compose_files_validate_against_the_compose_specification(name: str) -> None:
    """Both compose files are valid Compose Specification documents (its JSON schema)."""
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(_load(name))


def test_every_secret_a_config_references_is_mounted_where_that_config_is_read() -> None:
    """Each ${file:/run/secrets/X} in connectors.example.yaml is mounted in connect and the
    workers (webhooks read back), each in alerting.example.yaml in the workers; no service
    mounts a secret that nothing it runs reads, and no secret is an environment variable."""
    compose = _load("docker-compose.yml")
    services = compose["services"]
    connectors = set(FILE_REFERENCE.findall((ROOT / "connectors.example.yaml").read_text()))
    alerting = set(FILE_REFERENCE.findall((ROOT / "alerting.example.yaml").read_text()))
    assert connectors and alerting
    defined = set(compose["secrets"])
    assert connectors | alerting | {"hub_api_token"} == defined
    webhook = {
        s
        for s in connectors
        if "webhook" in s or (s.endswith("client_secret") and "salesforce" not in s)
    }
    for name in ("worker", "api"):
        assert set(services[name]["secrets"]) == defined, name
    assert set(services["connect"]["secrets"]) == connectors - webhook
    assert "secrets" not in services["topics"]
    for name, service in services.items():
        for key in service.get("environment") or {}:
            assert not re.search(r"TOKEN$|SECRET|PASSWORD", key) or key.endswith("_FILE"), (
                name,
                key,
            )


def test_required_settings_fail_loudly_and_bind_mounts_refuse_a_missing_file() -> None:
    """KAFKA_CLUSTER_ID and HUB_PUBLIC_URL use ${VAR:?...}; no ${VAR:-} turns unset into
    empty for a secret; config binds never create a directory in place of a missing file."""
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${KAFKA_CLUSTER_ID:?" in text and "${HUB_PUBLIC_URL:?" in text
    assert ":-}" not in text
    compose = _load("docker-compose.yml")
    binds = [
        volume
        for service in compose["services"].values()
        for volume in service.get("volumes") or []
        if isinstance(volume, dict)
    ]
    assert {b["target"] for b in binds} == {"/config/alerting.yaml", "/config/connectors.yaml"}
    for bind in binds:
        assert bind["type"] == "bind" and bind["read_only"]
        assert bind["bind"]["create_host_path"] is False


def test_one_named_image_with_a_health_check_and_cached_dependencies() -> None:
    """Every hub service runs one named image, built once; the Dockerfile installs the whole
    package as a non-root user, dependencies in their own layer, with a HEALTHCHECK."""
    services = _load("docker-compose.yml")["services"]
    hub = {n: s for n, s in services.items() if n != "kafka"}
    assert {s["image"] for s in hub.values()} == {"product-ops-hub:${HUB_VERSION:-latest}"}
    assert [n for n, s in hub.items() if "build" in s] == ["topics"]
    assert services["kafka"]["healthcheck"]["start_period"]
    assert services["kafka"]["environment"]["CLUSTER_ID"].startswith("${KAFKA_CLUSTER_ID:?")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY . ." in dockerfile and "HEALTHCHECK" in dockerfile and "USER hub" in dockerfile
    assert dockerfile.index("COPY pyproject.toml") < dockerfile.index("-r /tmp/requirements.txt")
    assert dockerfile.index("-r /tmp/requirements.txt") < dockerfile.index("COPY . .")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored
