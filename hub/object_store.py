"""The local object store the embedded broker keeps its log in, so ``hub up`` is durable.

The embedded broker (Tansu) can keep its log in memory or in an S3 bucket; it has no
file engine. So a durable ``hub up`` runs a small S3-compatible server on loopback that
stores its objects as files under ``HUB_DATA_DIR/log``: s3rver, from the npm registry,
installed by ``make`` into ``hub/objectstore/node_modules`` from the committed lock file.
Chosen by measurement (issue 17): every record the broker acknowledged survived a
``kill -9`` of broker and store, batched produce reached ~28k records/s, and it installs
with the Node.js the machine already has, in two seconds, with nothing else to run.

Only this module knows the store is s3rver; the broker module hands Tansu the endpoint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

import requests
import structlog

from core.errors import FatalError
from hub.processes import die_with_parent

__all__ = ["BUCKET", "LocalObjectStore", "object_store_server"]

log = structlog.get_logger(__name__)

BUCKET = "hub"
_PACKAGE = Path(__file__).resolve().parent / "objectstore"
_SERVER = _PACKAGE / "node_modules" / "s3rver" / "bin" / "s3rver.js"
# s3rver's fixed loopback credentials: it serves 127.0.0.1 only and checks nothing else.
ACCESS_KEY = SECRET_KEY = "S3RVER"


def object_store_server() -> list[str]:
    """The command that runs the store, or a FatalError saying how to install it."""
    node = shutil.which("node")
    if node is None or not _SERVER.is_file():
        missing = "Node.js" if node is None else f"{_SERVER.relative_to(_PACKAGE.parent)}"
        raise FatalError(
            f"the durable embedded broker needs its object store, and {missing} is missing: "
            "run `make` (it installs it), or set HUB_EMBEDDED_STORAGE=memory to keep the log "
            "in memory (lost at stop)"
        )
    return [node, str(_SERVER)]


class LocalObjectStore:
    """An S3-compatible server on a loopback port, its objects under ``directory``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """What the broker needs to reach the bucket (plain HTTP on loopback)."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def start(self, timeout: float = 30.0) -> LocalObjectStore:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            *object_store_server(),
            "--directory", str(self.directory),
            "--address", "127.0.0.1",
            "--port", str(self.port),
            "--configure-bucket", BUCKET,
            "--silent",
        ]  # fmt: skip
        errors = self.directory.parent / "objectstore.log"
        with errors.open("ab") as sink:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                preexec_fn=die_with_parent,
                env={**os.environ, "NODE_ENV": "production"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                said = errors.read_text(errors="replace").strip().splitlines()[-1:] or ["-"]
                raise FatalError(
                    f"the embedded broker's object store exited ({self._process.returncode}): "
                    f"{said[0][:300]}"
                )
            try:
                if requests.get(f"{self.endpoint}/{BUCKET}", timeout=1).status_code == 200:
                    log.info("object store ready", directory=str(self.directory))
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise FatalError(f"the embedded broker's object store did not start within {timeout:.0f}s")

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __enter__(self) -> LocalObjectStore:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
