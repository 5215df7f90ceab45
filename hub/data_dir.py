"""The hub's data directory: what lives where, which version wrote it, and who holds it.

Layout under ``HUB_DATA_DIR``:

- ``log/``: the embedded broker's whole log (the object store's files), when durable;
- ``worker/``: the worker's local tables and checkpoints (a cache of the log);
- ``FORMAT``: the layout version and the id of the log the cache belongs to;
- ``hub.lock``: held by the running ``hub up`` (a second one on the same data refuses);
- ``api-token``, ``broker.json``: see ``core.runtime_files``.

Every way this can go wrong is one clear line before anything starts: a directory that
cannot be written, one written by a newer hub, one another hub is using.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import IO, Any, Literal

from core.errors import ConfigError

__all__ = ["FORMAT_VERSION", "DataDir"]

FORMAT_VERSION = 1


class DataDir:
    """One ``hub up``'s hold on its data directory, from ``open()`` to ``close()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None

    @property
    def log(self) -> Path:
        return self.path / "log"

    @property
    def worker(self) -> Path:
        return self.path / "worker"

    @property
    def format_file(self) -> Path:
        return self.path / "FORMAT"

    def open(self, log: Literal["durable", "memory", "external"]) -> DataDir:
        """Check, lock and lay out the directory for a log kept here (``durable``), in the
        embedded broker's memory, or in an external cluster; a cache of another log goes."""
        self._writable()
        self._take_lock()
        try:
            found = self._read_format()
            if log == "memory" or (log == "durable" and (found is None or not self._has_log())):
                self._reset_log(found)  # a new log: nothing cached from an earlier one
            elif found is None:
                self._write_format(found)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> DataDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- checks ---------------------------------------------------------------------

    def _writable(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".write-probe-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
            raise ConfigError(
                f"cannot write to the data dir {self.path} ({reason}); "
                "fix its permissions or free space, or set HUB_DATA_DIR"
            ) from None

    def _take_lock(self) -> None:
        handle = (self.path / "hub.lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigError(
                f"another hub is running on the data dir {self.path} (pid {holder}); "
                "stop it first, or give this one its own HUB_DATA_DIR"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def _read_format(self) -> dict[str, Any] | None:
        if not self.format_file.exists():
            return None
        try:
            found = json.loads(self.format_file.read_text())
            version = int(found["format"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigError(
                f"{self.format_file} is unreadable; this is not a hub data dir "
                "(or it was damaged): move it aside or set HUB_DATA_DIR"
            ) from None
        if version > FORMAT_VERSION:
            raise ConfigError(
                f"the data dir {self.path} was written by a newer hub (format {version}; "
                f"this one reads {FORMAT_VERSION}): upgrade the hub, or use another HUB_DATA_DIR"
            )
        return dict(found)

    def _has_log(self) -> bool:
        return self.log.is_dir() and any(self.log.iterdir())

    def _reset_log(self, found: dict[str, Any] | None) -> None:
        """A new log: the worker's cache of any earlier one would lie, so it goes."""
        shutil.rmtree(self.worker, ignore_errors=True)
        self._write_format(found)

    def _write_format(self, found: dict[str, Any] | None) -> None:
        record = {"format": FORMAT_VERSION, "log_id": uuid.uuid4().hex}
        if found and found.get("created_at"):
            record["created_at"] = found["created_at"]
        temporary = self.format_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(record) + "\n")
        temporary.replace(self.format_file)
