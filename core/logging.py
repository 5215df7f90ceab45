"""Logging, configured once: structlog for our code, stdlib (Faust, aiokafka) routed through it.

Secrets never reach a log line: values under secret-looking keys are masked, and any
secret value the hub resolved at run time (``register_secret``) is scrubbed from every
string in the event, wherever it hides (an error message, a URL).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

import structlog

__all__ = [
    "ConsoleOverlay",
    "configure_logging",
    "overlay_hold",
    "register_secret",
    "scrub",
    "set_overlay",
    "MASK",
]

MASK = "***"
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|authorization|api[_-]?key|cookie)", re.I)
_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a resolved secret so no later log line can carry it."""
    if value and len(value) >= 4:
        _known_secrets.add(value)


def scrub(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: MASK if _SECRET_KEY.search(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    return value


def redact_secrets(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = MASK if _SECRET_KEY.search(key) else _redact(value)
    return event_dict


def _scrub_rendered(_: Any, __: str, rendered: Any) -> Any:
    return scrub(rendered) if isinstance(rendered, str) else rendered


class ConsoleOverlay(Protocol):
    """Something drawn in place at the bottom of a terminal (a progress display): a log
    line must not land in the middle of it."""

    def hold(self) -> AbstractContextManager[None]:
        """Erase what is drawn, keep it from redrawing, draw it again on exit."""
        ...


_overlay: ConsoleOverlay | None = None


def set_overlay(overlay: ConsoleOverlay | None) -> None:
    """Route every log line of this process around ``overlay`` (None: stop)."""
    global _overlay
    _overlay = overlay


def overlay_hold() -> AbstractContextManager[None]:
    """Around anything written to the terminal: the overlay's ``hold`` when there is one
    (relayed child output takes this path too)."""
    return _overlay.hold() if _overlay is not None else nullcontext()


class _ConsoleHandler(logging.StreamHandler):
    """stderr, writing around the console overlay when there is one."""

    def emit(self, record: logging.LogRecord) -> None:
        with overlay_hold():
            super().emit(record)


def configure_logging(fmt: str = "console", level: str = "info") -> None:
    """JSON for machines, aligned colours for people; one call, at start."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
            _scrub_rendered,
        ],
    )
    handler = _ConsoleHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Faust and its clients narrate every service start at INFO; keep that for --debug.
    for noisy in ("aiokafka", "kafka", "faust", "mode", "hub.app"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name in ("kafka.net.selector", "kafka.net.transport"):
        noisy_logger = logging.getLogger(name)
        noisy_logger.filters[:] = [
            f for f in noisy_logger.filters if not isinstance(f, _KafkaPythonNoise)
        ]
        noisy_logger.addFilter(_KafkaPythonNoise())


class _KafkaPythonNoise(logging.Filter):
    """Two things kafka-python 3 logs in normal operation are kept at DEBUG; its other
    warnings and errors stay as they are.

    - "a step of the network loop took over 100 ms": in a process whose threads share the
      GIL with folding or pulling (every hub process on two cores) that is ordinary
      scheduling, not a fault people can act on;
    - "Error receiving network data" with ``AttributeError: 'NoneType' object has no
      attribute 'recv'``: a read event that arrives for a socket the client has just
      closed itself (the transport's socket is already None); nothing was lost, and the
      client drops that connection as it meant to.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        slow = record.levelno == logging.WARNING and "threshold). It is blocking" in message
        error = record.exc_info[1] if record.exc_info else None
        closed = (
            "Error receiving network data" in message
            and isinstance(error, AttributeError)
            and "'NoneType' object has no attribute 'recv'" in str(error)
        )
        if slow or closed:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True
