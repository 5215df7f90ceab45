"""Pure CPU-bound work on the worker's state in a forked process, off the worker's GIL.

The drift rules read the whole read model: at 50x the demo one evaluation is 20 s of pure
Python. In a thread it holds the GIL against the fold loop and the API (a key lookup waited
seconds behind it), and copying the model for the thread was itself seconds of work on the
event loop. A fork costs neither: the child starts with the process's memory as it is at
that instant (copy-on-write, a consistent snapshot for free), computes on its own core,
and sends back only its answer, pickled, through a pipe. The parent's only work is the
fork itself (page tables: milliseconds) and reading the answer.

The child touches nothing shared: no sockets, no files, no logging; it ends with
``os._exit`` so no inherited cleanup (Kafka clients, RocksDB, atexit hooks) runs twice.
Where ``fork`` is not safe (not Linux) the work runs in a thread as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from typing import TypeVar

from hub.processes import die_with_parent

__all__ = ["ForkedWorkFailed", "FORK_AVAILABLE", "run_forked"]

T = TypeVar("T")
FORK_AVAILABLE = sys.platform == "linux" and hasattr(os, "fork")
CHILD_NICENESS = 10


class ForkedWorkFailed(RuntimeError):
    """The work raised in the child, or the child died before answering."""


def _child(work: Callable[[], object], out: int) -> None:
    """In the fork: compute, write the pickled answer, leave without any cleanup."""
    status = 0
    try:
        gc.disable()  # collections would write to every object's header: copied pages
        signal.set_wakeup_fd(-1)  # the parent's event loop must not hear our signals
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        die_with_parent()
        # Background work: when the cores are busy, folding and the API come first.
        os.nice(CHILD_NICENESS)
        try:
            answer = pickle.dumps((True, work()), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # the parent reports it; the child only carries it
            text = "".join(traceback.format_exception(exc))
            answer = pickle.dumps((False, text), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(answer)
        while view:
            view = view[os.write(out, view) :]
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _collect(pid: int, read_end: int) -> tuple[bytes, int]:
    """The child's whole answer, then its exit status (blocking: run in a thread)."""
    chunks = []
    with os.fdopen(read_end, "rb", closefd=True) as pipe:
        while chunk := pipe.read(1 << 20):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks), status


async def run_forked(work: Callable[[], T]) -> T:
    """``work()`` computed in a fork of this process, its answer returned here; its
    exception re-raised as ``ForkedWorkFailed``. Cancelling kills the child."""
    if not FORK_AVAILABLE:
        return await asyncio.to_thread(work)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        os.close(read_end)
        _child(work, write_end)
    os.close(write_end)
    try:
        data, status = await asyncio.shield(asyncio.to_thread(_collect, pid, read_end))
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):  # it may have just finished
            os.kill(pid, signal.SIGKILL)
        raise
    if not data:
        raise ForkedWorkFailed(f"the forked process ended without an answer (status {status})")
    ok, answer = pickle.loads(data)
    if not ok:
        raise ForkedWorkFailed(f"the forked work failed:\n{answer}")
    result: T = answer
    return result
