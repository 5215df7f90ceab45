"""Running one Faust worker: the stream processors plus the HTTP API."""

from __future__ import annotations

import logging
import os

import faust
import structlog

from hub.app import create_app
from hub.logging import configure_logging
from hub.processes import tune_gc_for_folding
from hub.runtime_files import resolve_api_token, resolve_bootstrap
from hub.settings import Settings
from hub.topics import ensure_topics

__all__ = ["run_worker"]

log = structlog.get_logger(__name__)


class _HubWorker(faust.Worker):
    """Faust's worker, but logging stays ours (structlog, JSON or console, redacted)."""

    hub_settings: Settings

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        configure_logging(self.hub_settings.log_format, self.hub_settings.log_level)


def run_worker(settings: Settings) -> None:
    """Blocks until the worker is told to stop (SIGINT/SIGTERM)."""
    tune_gc_for_folding()
    bootstrap = resolve_bootstrap(settings)
    token, _ = resolve_api_token(settings)
    ensure_topics(bootstrap, settings.topic_partitions, settings.topic_replication)
    app = create_app(settings, bootstrap, token, environ=os.environ)
    worker = _HubWorker(
        app, loglevel=settings.log_level.upper(), quiet=True, redirect_stdouts=False
    )
    worker.hub_settings = settings
    worker.spinner = None  # it draws on stdout, which is for people and pipes, not progress

    log.info("worker starting", api=settings.api_url, broker=bootstrap)
    worker.execute_from_commandline()
