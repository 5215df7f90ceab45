"""A connector's configuration: one shape in connectors.yaml, a FILE, and the REST API.

```yaml
name: jira-main
type: jira
poll_interval: 60s
settings: {...}      # the connector type's own model
```
Validation reports every problem with its field path, so a form or a CLI can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.base import Connector, ConnectorSettings
from connectors.registry import connector_types
from core.errors import ConfigError
from core.secrets import SecretResolver
from core.validation import FieldProblem, InvalidConfigError, parse_duration
from core.validation import problems_from as _problems

__all__ = [
    "ConnectorConfig",
    "InvalidConfigError",
    "parse_config",
    "load_config_file",
    "parse_duration",
    "build_connector",
]


class ConnectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$",
        description="Unique; lower case letters, digits, - _ .",
    )
    type: str
    poll_interval: timedelta = timedelta(seconds=60)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("poll_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        duration = parse_duration(value)
        if duration < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return duration

    def public(self) -> dict[str, Any]:
        """As shown by the API and CLI. Secrets are references already, never values."""
        seconds = self.poll_interval.total_seconds()
        return {
            "name": self.name,
            "type": self.type,
            "poll_interval": f"{seconds:g}s",
            "settings": self.settings,
        }


@dataclass(frozen=True)
class ValidConfig:
    config: ConnectorConfig
    connector_type: type[Connector]
    settings: ConnectorSettings


def parse_config(raw: Any) -> ValidConfig:
    """Check the envelope and the type's own settings; every problem in one error."""
    if not isinstance(raw, dict):
        raise InvalidConfigError([FieldProblem("", "a connector config must be a mapping")])
    problems: list[FieldProblem] = []
    config = None
    try:
        config = ConnectorConfig.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problems(exc))
    types = connector_types()
    type_name = raw.get("type")
    connector_type = types.get(type_name) if isinstance(type_name, str) else None
    if connector_type is None and not any(p.field == "type" for p in problems):
        problems.append(
            FieldProblem(
                "type", f"unknown connector type {type_name!r}; known: {', '.join(sorted(types))}"
            )
        )
    settings = None
    if connector_type is not None and isinstance(raw.get("settings", {}), dict):
        try:
            settings = connector_type.settings_model.model_validate(raw.get("settings", {}))
        except ValidationError as exc:
            problems.extend(_problems(exc, "settings."))
    if problems or config is None or connector_type is None or settings is None:
        raise InvalidConfigError(problems)
    return ValidConfig(config, connector_type, settings)


def load_config_file(path: Path) -> list[ValidConfig]:
    """A YAML (or JSON) file with one config, a list, or ``connectors: [...]``."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if isinstance(raw, dict) and "connectors" in raw:
        raw = raw["connectors"]
    items = raw if isinstance(raw, list) else [raw]
    configs: list[ValidConfig] = []
    problems: list[FieldProblem] = []
    for index, item in enumerate(items):
        try:
            configs.append(parse_config(item))
        except InvalidConfigError as exc:
            where = f"connectors[{index}]." if isinstance(raw, list) else ""
            problems.extend(FieldProblem(where + p.field, p.message) for p in exc.problems)
    names = [c.config.name for c in configs]
    problems.extend(
        FieldProblem("name", f"{n!r} appears twice")
        for n in {n for n in names if names.count(n) > 1}
    )
    if problems:
        raise InvalidConfigError(problems)
    return configs


def build_connector(valid: ValidConfig, secrets: SecretResolver) -> Connector:
    return valid.connector_type(valid.config.name, valid.settings, secrets)
