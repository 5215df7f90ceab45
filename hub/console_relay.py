"""Children's output relayed through the process that draws on the terminal.

``hub up`` draws the backfill bars in place at the bottom of the terminal. Its children
(worker, connector runtime, demo sources) print too; written straight to the shared
terminal, a child's line lands under the bars and the next redraw erases it (the demo's
banner with its sign-in token lost its last lines). So while the bars are live each child
writes to a pseudo-terminal of its own, which keeps it behaving as on a terminal (colours,
line buffering), and a thread here copies its complete lines to the real one above the
bars (``core.logging``'s overlay, the same path this process's log lines take).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import sys
import termios
import threading
from typing import TextIO

from core.logging import overlay_hold

__all__ = ["TerminalRelay"]


class TerminalRelay:
    """One child's pseudo-terminal: hand ``child_fd`` to the child, then ``start``."""

    def __init__(self, name: str, out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stderr
        self.master, self.child_fd = pty.openpty()
        self._copy_window_size()
        self._thread = threading.Thread(target=self._run, name=f"relay-{name}", daemon=True)

    def _copy_window_size(self) -> None:
        """The child sees the real terminal's width, so what it wraps or cuts fits."""
        with contextlib.suppress(OSError, ValueError):
            size = fcntl.ioctl(self.out.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.child_fd, termios.TIOCSWINSZ, size)

    def start(self) -> TerminalRelay:
        """Call once the child holds ``child_fd``: our copy is closed, so the relay sees
        the end when the child exits."""
        os.close(self.child_fd)
        self._thread.start()
        return self

    def _emit(self, data: bytes) -> None:
        with overlay_hold():
            self.out.write(data.decode(errors="replace"))
            self.out.flush()

    def _run(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the child and every copy of its terminal are gone
                chunk = b""
            if not chunk:
                break
            pending += chunk
            complete, _, pending = pending.rpartition(b"\n")
            if complete:
                self._emit(complete + b"\n")
        if pending:
            self._emit(pending + b"\n")
        os.close(self.master)

    def join(self, timeout: float = 2.0) -> None:
        self._thread.join(timeout)
