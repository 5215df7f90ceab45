"""Running one Faust worker: the stream processors plus the HTTP API."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import faust
import structlog

from core.logging import configure_logging
from core.runtime_files import resolve_api_token, resolve_bootstrap
from core.settings import Settings
from core.topics import ensure_topics
from hub.processes import tune_gc_for_folding
from hub.wiring import create_worker

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
    # Faust creates only the last level of its data directory; a fresh volume or a path
    # nobody made yet must not stop a worker from starting.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_worker(settings, bootstrap, token, environ=os.environ).app
    worker = _HubWorker(
        app, loglevel=settings.log_level.upper(), quiet=True, redirect_stdouts=False
    )
    worker.hub_settings = settings
    worker.spinner = None  # it draws on stdout, which is for people and pipes, not progress

    log.info("worker starting", api=settings.api_url, broker=bootstrap)
    with local_tables(settings.data_dir / "worker"):
        worker.execute_from_commandline()


@contextlib.contextmanager
def local_tables(path: Path) -> Iterator[None]:
    """Keep the worker's local tables only across clean stops.

    The local store takes every write at once, while the same write reaches the changelog
    later, from the producer's buffer. A worker killed in between leaves a store ahead of
    its changelog: its checkpoints vouch for states the changelog (which every other
    worker's read model follows) never got, and the fold loop would never fold them
    again. So a run that did not end cleanly leaves its marker behind, and the next run
    drops the store and recovers from the changelog alone, where each checkpoint follows
    the states it covers."""
    marker = path / "RUNNING"
    if marker.exists():
        log.warning("the last run did not stop cleanly: rebuilding local tables from the log")
        shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    marker.touch()
    try:
        yield
    except SystemExit as stop:
        if stop.code in (0, None):  # stopped by a signal, after the producer flushed
            marker.unlink(missing_ok=True)
        raise
