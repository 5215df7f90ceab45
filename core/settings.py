"""One frozen settings object, built once in ``main`` and passed down.

Nothing else in the hub reads ``os.environ``: tests build ``Settings(...)`` directly.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Everything the hub can be told, by environment (``HUB_*``) or ``.env``."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_file=".env", extra="ignore", frozen=True
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="host:port[,host:port]; unset starts the embedded broker.",
    )
    data_dir: Path = Field(
        default=Path("data"), description="The embedded broker's log, tables, token, state."
    )
    embedded_storage: Literal["durable", "memory"] = Field(
        default="durable",
        description="Where the embedded broker keeps the log: 'durable' under "
        "HUB_DATA_DIR/log, kept across stops, crashes and upgrades; 'memory' is lost at stop "
        "(fast tests, throwaway demos).",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=6066, ge=1, le=65535)
    api_advertised_host: str | None = Field(
        default=None,
        description="Host other workers use to reach this one; defaults to api_host, "
        "or the machine's hostname when api_host is 0.0.0.0.",
    )
    api_token: SecretStr | None = None
    api_token_file: Path | None = Field(
        default=None,
        description="A file holding the API token (a mounted secret); used when HUB_API_TOKEN "
        "is unset, so the token never sits in the environment.",
    )
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    store: str = Field(default="rocksdb://", description="Faust table store URL.")
    topic_partitions: int = Field(default=4, ge=1, le=1024)
    topic_replication: int = Field(default=1, ge=1, le=16)
    app_id: str = Field(default="product-ops-hub", min_length=1)
    broker_session_timeout: float = Field(default=6.0, gt=0)
    broker_rebalance_timeout: float = Field(default=6.0, gt=0)
    broker_heartbeat_interval: float = Field(default=1.0, gt=0)
    connectors_file: Path | None = Field(
        default=None, description="connectors.yaml applied when the connector runtime starts."
    )
    recovery_consistency_check: bool = Field(
        default=True,
        description="Faust's check that a table's persisted offset is not past its changelog's "
        "end. Brokers that under-report end offsets (the embedded one) fail it spuriously; "
        "the hub's own position tracking re-folds a table that is behind either way.",
    )
    alerting_file: Path | None = Field(
        default=None, description="alerting.yaml: rules, routes, receivers, digests."
    )
    fault_crash_after_pages: int | None = Field(
        default=None,
        ge=1,
        description="Fault injection for tests only: the runtime exits after producing this "
        "many pages and before committing the last cursor.",
    )
    public_url: str | None = Field(
        default=None, description="How users reach the API; used in links."
    )

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if not value.startswith(("rocksdb://", "memory://")):
            raise ValueError("must be rocksdb:// or memory://")
        return value

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server.strip()!r} is not host:port")
        return value

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def durable_embedded_log(self) -> bool:
        return self.embedded_broker and self.embedded_storage == "durable"

    @property
    def dashboard_url(self) -> str:
        """Where people open the dashboard: ``/`` of the API's URL (public when set)."""
        return self.api_url.rstrip("/") + "/"

    @property
    def advertised_host(self) -> str:
        if self.api_advertised_host:
            return self.api_advertised_host
        if self.api_host in ("0.0.0.0", "::"):
            return socket.gethostname()
        return self.api_host

    @property
    def api_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line per bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "HUB_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"invalid setting {name}: {err['msg']}")
        raise ConfigError("; ".join(lines)) from None
