"""Secrets in connector configs are references, resolved only when used.

``${env:NAME}`` reads the environment the resolver was built with (in ``main``);
``${file:/path}`` reads a file (Docker and Kubernetes secrets). Stored configs, API and CLI
output only ever hold the reference. Every resolved value is registered with the log
scrubber, so it cannot reach a log line, an error message or a dead letter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from core.errors import ConfigError
from core.logging import register_secret

__all__ = ["SecretRef", "SecretResolver", "is_reference"]

_REFERENCE = re.compile(r"^\$\{(env|file):([^}]+)\}$")


def is_reference(value: str) -> bool:
    return bool(_REFERENCE.match(value))


def _must_be_reference(value: str) -> str:
    if not is_reference(value):
        raise ValueError(
            "must be a secret reference like ${env:NAME} or ${file:/path}, never the secret itself"
        )
    return value


# The schema says what it is, so forms mask it and tools know to ask for a reference.
SecretRef = Annotated[
    str,
    AfterValidator(_must_be_reference),
    WithJsonSchema(
        {
            "type": "string",
            "format": "secret-reference",
            "pattern": _REFERENCE.pattern,
            "description": "A secret reference: ${env:NAME} or ${file:/path}.",
        }
    ),
]


class SecretResolver:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)

    def resolve(self, reference: str) -> str:
        match = _REFERENCE.match(reference)
        if not match:
            raise ConfigError(f"{reference!r} is not a secret reference")
        scheme, name = match.groups()
        if scheme == "env":
            if name not in self._environ:
                raise ConfigError(f"secret {reference}: environment variable {name} is not set")
            value = self._environ[name]
        else:
            try:
                value = Path(name).read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"secret {reference}: cannot read {name} ({exc.strerror})"
                ) from None
        register_secret(value)
        return value
