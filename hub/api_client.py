"""The CLI's client of the hub's REST API: the same surface, so the same rules and messages."""

from __future__ import annotations

import json
from typing import Any

import click
import requests

from core.errors import ConfigError
from core.settings import Settings

__all__ = ["ApiClient", "echo_json"]


class ApiClient:
    """The CLI's client of the REST API: the same surface, so the same rules and messages."""

    def __init__(self, settings: Settings) -> None:
        from core.runtime_files import resolve_api_token

        token, _ = resolve_api_token(settings, create=False)
        self.url = settings.api_url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(
        self, method: str, path: str, body: Any = None, *, text: str | None = None, **params: Any
    ) -> Any:
        """``body`` goes as JSON, ``text`` as it is (YAML documents)."""
        try:
            response = self.session.request(
                method,
                self.url + path,
                json=body if text is None else None,
                data=text.encode() if text is not None else None,
                params={k: v for k, v in params.items() if v is not None} or None,
                timeout=30,
            )
        except requests.ConnectionError:
            raise ConfigError(
                f"cannot reach the hub API at {self.url}; is the hub running?"
            ) from None
        payload = response.json() if response.content else {}
        if response.status_code >= 400:
            error = payload.get("error", {})
            lines = [error.get("message", response.text)]
            lines += [f"  {f['field']}: {f['message']}" for f in error.get("fields", [])]
            raise click.ClickException("\n".join(lines))
        return payload


def echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str))
