"""Logging: one configuration, JSON or console, and no secret ever printed."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from core.logging import configure_logging, register_secret


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield
    logging.getLogger().handlers.clear()
    structlog.reset_defaults()


def test_json_lines_carry_bound_context_and_mask_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bound context shows up; secret-named keys and registered secret values are masked."""
    configure_logging("json", "info")
    register_secret("hunter2-very-secret")
    log = structlog.get_logger("test").bind(connector="jira-main", topic="hub.workitems")
    log.info("sync failed", api_token="abc123", error="401 for token hunter2-very-secret")
    logging.getLogger("aiohttp.client").warning("url had hunter2-very-secret in it")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["connector"] == "jira-main" and lines[0]["topic"] == "hub.workitems"
    assert lines[0]["api_token"] == "***"
    assert lines[0]["error"] == "401 for token ***"
    assert lines[1]["event"] == "url had *** in it"
    assert all("hunter2" not in json.dumps(line) for line in lines)


def test_console_format_is_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    """The console renderer writes one readable line, not JSON."""
    configure_logging("console", "info")
    structlog.get_logger("test").info("hello", n=1)
    out = capsys.readouterr().err
    assert "hello" in out and "n=1" in out and not out.startswith("{")


def test_kafka_pythons_normal_operation_notes_are_debug_not_warnings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """kafka-python's "a network step took over 100 ms" note and its error for a read on a
    socket it had just closed itself are demoted to DEBUG (not shown at INFO), while its
    other warnings and errors still show."""
    configure_logging("json", "info")
    selector = logging.getLogger("kafka.net.selector")
    transport = logging.getLogger("kafka.net.transport")
    selector.warning(
        "Task <Task> ran for 0.104s (>0.100s threshold). It is blocking the event loop"
    )
    selector.warning("Wakeup socket returned empty. Rebuilding.")
    for error in (AttributeError("'NoneType' object has no attribute 'recv'"), OSError(104)):
        try:
            raise error
        except Exception:
            transport.exception("<KafkaTCPTransport> : Error receiving network data closing")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("kafka.net.selector", "warning"),  # the wakeup socket
        ("kafka.net.transport", "error"),  # a real socket error
    ]
    assert "OSError" in lines[1]["exception"]
