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

Work that splits into two independent halves can run them on both cores at once
(``run_forked_beside``): the fork forks a helper at once, so both read one snapshot; the
helper pipes its half to the main fork, which combines them, and only the combined
answer comes back. The parent's cost stays one fork and one answer read.
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
from typing import Any, TypeVar

from hub.processes import die_with_parent

__all__ = ["ForkedWorkFailed", "FORK_AVAILABLE", "run_forked", "run_forked_beside"]

T = TypeVar("T")
H = TypeVar("H")
FORK_AVAILABLE = sys.platform == "linux" and hasattr(os, "fork")
CHILD_NICENESS = 10


class ForkedWorkFailed(RuntimeError):
    """The work raised in the child, or the child died before answering."""


def _child(work: Callable[[], object], out: int, nested: bool) -> None:
    """In the fork: compute, write the pickled answer, leave without any cleanup.
    ``nested``: forked by a fork, which made it background work already."""
    status = 0
    try:
        gc.disable()  # collections would write to every object's header: copied pages
        signal.set_wakeup_fd(-1)  # the parent's event loop must not hear our signals
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        die_with_parent()
        if not nested:
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


def _answer(data: bytes, status: int | None) -> Any:
    """What a child sent: its value, or its failure raised here."""
    if not data:
        ended = "" if status is None else f" (status {status})"
        raise ForkedWorkFailed(f"the forked process ended without an answer{ended}")
    ok, answer = pickle.loads(data)
    if not ok:
        raise ForkedWorkFailed(f"the forked work failed:\n{answer}")
    return answer


def _spawn(work: Callable[[], object], nested: bool = False) -> tuple[int, int]:
    """Fork a child computing ``work``: its pid, and the read end of its answer."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        os.close(read_end)
        _child(work, write_end, nested)
    os.close(write_end)
    return pid, read_end


async def run_forked_beside(helper: Callable[[], H], work: Callable[[Callable[[], H]], T]) -> T:
    """``work`` and ``helper`` in two processes reading one snapshot of this one, on two
    cores: ``work`` gets a function that waits for the helper's answer, so it computes
    its part first and combines the two, and only its answer comes back here. Cancelling
    kills both. Without ``fork``, one thread computes the helper's part when ``work`` asks
    for it.

    The worker forks once; that fork forks the helper before it does anything else, so
    both read the worker's memory as it was at the one fork. Two forks from the worker
    would stall its event loop twice: a fork copies the page tables of the whole process,
    ~30 ms at 50x the demo, and the key lookups' p99 went from 17 ms to 33 ms."""
    if not FORK_AVAILABLE:
        return await asyncio.to_thread(work, helper)

    def main() -> T:
        helper_pid, helper_answer = _spawn(helper, nested=True)

        def helpers_answer() -> H:
            # Its whole answer, once written; if ``work`` fails first, the helper ends
            # with this process (``die_with_parent``).
            with os.fdopen(helper_answer, "rb", closefd=True) as pipe:
                data = pipe.read()
            _, status = os.waitpid(helper_pid, 0)
            result: H = _answer(data, status)
            return result

        return work(helpers_answer)

    return await run_forked(main)


async def run_forked(work: Callable[[], T]) -> T:
    """``work()`` computed in a fork of this process, its answer returned here; its
    exception re-raised as ``ForkedWorkFailed``. Cancelling kills the child."""
    if not FORK_AVAILABLE:
        return await asyncio.to_thread(work)
    pid, read_end = _spawn(work)
    try:
        data, status = await asyncio.shield(asyncio.to_thread(_collect, pid, read_end))
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):  # it may have just finished
            os.kill(pid, signal.SIGKILL)  # and a helper it forked dies with it
        raise
    result: T = _answer(data, status)
    return result
