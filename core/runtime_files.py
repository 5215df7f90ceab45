"""Files the hub keeps in its data directory: the API token and the live broker address.

The token file is created with mode 0600 before anything is written to it, so there is
no moment where another user could read it.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from core.errors import ConfigError
from core.settings import Settings

__all__ = [
    "resolve_api_token",
    "token_path",
    "write_broker_address",
    "read_broker_address",
    "clear_broker_address",
    "resolve_bootstrap",
]


def token_path(settings: Settings) -> Path:
    return settings.data_dir / "api-token"


def resolve_api_token(settings: Settings, *, create: bool = True) -> tuple[str, Path | None]:
    """The configured token (or the file holding it), else the one in the data directory,
    else a new one there."""
    if settings.api_token is not None:
        return settings.api_token.get_secret_value(), None
    if settings.api_token_file is not None:
        try:
            token = settings.api_token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"HUB_API_TOKEN_FILE {settings.api_token_file}: cannot read it ({exc.strerror})"
            ) from None
        if not token:
            raise ConfigError(f"HUB_API_TOKEN_FILE {settings.api_token_file} is empty")
        return token, None
    path = token_path(settings)
    if path.exists():
        return path.read_text().strip(), path
    if not create:
        raise ConfigError(f"no API token: set HUB_API_TOKEN or run `hub up` to create {path}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token, path


def _broker_file(settings: Settings) -> Path:
    return settings.data_dir / "broker.json"


def write_broker_address(settings: Settings, bootstrap_servers: str) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    payload = {"bootstrap_servers": bootstrap_servers, "pid": os.getpid()}
    _broker_file(settings).write_text(json.dumps(payload))


def read_broker_address(settings: Settings) -> str | None:
    path = _broker_file(settings)
    if not path.exists():
        return None
    payload = json.loads(path.read_text())
    try:
        os.kill(int(payload["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return None  # the hub that wrote it is gone
    return str(payload["bootstrap_servers"])


def clear_broker_address(settings: Settings) -> None:
    _broker_file(settings).unlink(missing_ok=True)


def resolve_bootstrap(settings: Settings) -> str:
    """Where the broker is for one-shot commands: configured, or the running hub's own."""
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    running = read_broker_address(settings)
    if running:
        return running
    raise ConfigError(
        "no broker: set HUB_KAFKA_BOOTSTRAP_SERVERS, or start the hub with `hub up` "
        f"(its embedded broker's address is kept in {_broker_file(settings)})"
    )
