"""Settings: defaults, validation, and the one clear line a bad one produces."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.errors import ConfigError
from core.settings import Settings, load_settings


def test_defaults_serve_on_loopback_with_an_embedded_broker() -> None:
    """Unset bootstrap servers means embedded; the API binds to 127.0.0.1:6066."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.embedded_broker
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 6066)
    assert settings.store == "rocksdb://"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api_port": 70000}, "invalid setting HUB_API_PORT"),
        ({"log_format": "xml"}, "invalid setting HUB_LOG_FORMAT"),
        ({"store": "redis://x"}, "invalid setting HUB_STORE: Value error, must be rocksdb"),
        (
            {"kafka_bootstrap_servers": "nohost"},
            "HUB_KAFKA_BOOTSTRAP_SERVERS: Value error, 'nohost' is not host:port",
        ),
    ],
)
def test_bad_settings_name_the_setting(overrides: dict[str, object], message: str) -> None:
    """Each invalid value is reported by its environment variable name."""
    with pytest.raises(ConfigError, match=message):
        load_settings(**overrides)


def test_the_cli_fails_with_one_line_on_a_bad_setting() -> None:
    """A bad environment variable stops any command with one readable line, exit code 2."""
    result = subprocess.run(
        [sys.executable, "-m", "hub", "topics", "list"],
        env={"HUB_API_PORT": "not-a-port", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: invalid setting HUB_API_PORT")


def test_api_token_is_masked_when_settings_are_printed() -> None:
    """A configured token never shows in the settings' repr."""
    settings = Settings(api_token="s3cr3t-value", _env_file=None)  # type: ignore[call-arg]
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.model_dump())
