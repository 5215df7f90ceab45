"""A child's terminal output relayed through the process that draws the bars."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from core.logging import set_overlay
from hub.console_relay import TerminalRelay


class _Bars:
    """An overlay that records when it was held: what a real display erases and redraws."""

    def __init__(self, out: io.StringIO) -> None:
        self.out = out

    @contextmanager
    def hold(self) -> Iterator[None]:
        self.out.write("<erase>")
        yield
        self.out.write("<redraw>")


def test_a_childs_lines_arrive_whole_above_the_overlay_and_it_sees_a_terminal() -> None:
    """Lines from the child's stdout and stderr come through complete, each write held
    around by the overlay; a last line without a newline still arrives; the child's
    output is a terminal, so it keeps its colours."""
    out = io.StringIO()
    set_overlay(_Bars(out))
    try:
        relay = TerminalRelay("child", out=out)
        script = (
            "import sys; print('tty', sys.stdout.isatty(), flush=True);"
            "print('to stderr', file=sys.stderr, flush=True);"
            "sys.stdout.write('part'); sys.stdout.flush(); sys.stdout.write('ial')"
        )
        child = subprocess.Popen(
            [sys.executable, "-c", script], stdout=relay.child_fd, stderr=relay.child_fd
        )
        relay.start()
        assert child.wait(20) == 0
        relay.join(10)
    finally:
        set_overlay(None)
    text = out.getvalue().replace("\r\n", "\n")
    chunks = [c for c in text.split("<redraw>") if c]
    assert all(c.startswith("<erase>") and c.endswith("\n") for c in chunks), text
    body = text.replace("<erase>", "").replace("<redraw>", "")
    assert body == "tty True\nto stderr\npartial\n"
