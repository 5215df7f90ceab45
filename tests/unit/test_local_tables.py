"""The worker's local tables survive clean stops only (``hub.worker.local_tables``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.worker import local_tables


def _run(path: Path, code: int | None) -> None:
    with pytest.raises(SystemExit), local_tables(path):
        (path / "table.sst").write_text("state")
        raise SystemExit(code)


def test_a_clean_stop_keeps_the_local_tables(tmp_path: Path) -> None:
    """After a stop with exit status 0 the next run finds its tables where they were."""
    _run(tmp_path / "worker", 0)
    with pytest.raises(SystemExit), local_tables(tmp_path / "worker"):
        assert (tmp_path / "worker" / "table.sst").read_text() == "state"
        raise SystemExit(0)


def test_a_run_that_did_not_stop_cleanly_rebuilds_from_the_log(tmp_path: Path) -> None:
    """A failed stop, or a run killed before it could stop (its marker still there), makes
    the next run drop the local tables, so they are recovered from the changelog alone."""
    worker = tmp_path / "worker"
    _run(worker, 1)
    with pytest.raises(SystemExit), local_tables(worker):
        assert not (worker / "table.sst").exists()
        (worker / "table.sst").write_text("state")
        raise SystemExit(0)
    (worker / "RUNNING").touch()  # as a SIGKILL leaves it
    with pytest.raises(SystemExit), local_tables(worker):
        assert not (worker / "table.sst").exists()
        raise SystemExit(0)
