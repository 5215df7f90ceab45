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
(``run_forked_beside``): both forks are made at the same instant, so both read one
snapshot; the helper pipes its half to the main fork, which combines them, and only the
combined answer comes back. The parent's cost stays one answer read.
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
CHILD_NICENESS = 10  # where SCHED_IDLE is not to be had (``_background``)


class ForkedWorkFailed(RuntimeError):
    """The work raised in the child, or the child died before answering."""


def _background() -> None:
    """Make this process background work: folding and the API come first.

    ``SCHED_IDLE`` where the kernel has it: the child then runs only on CPU time nobody
    else wants, and a worker thread that wakes takes its core at once. At niceness +10 a
    request still waited behind it for part of a time slice, and with both cores busy
    computing (``run_forked_beside``) the key lookups' p99 went from 17 ms to 33 ms at 50x
    the demo. Elsewhere, a nice value."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(CHILD_NICENESS)


def _child(work: Callable[[], object], out: int) -> None:
    """In the fork: compute, write the pickled answer, leave without any cleanup."""
    status = 0
    try:
        gc.disable()  # collections would write to every object's header: copied pages
        signal.set_wakeup_fd(-1)  # the parent's event loop must not hear our signals
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        die_with_parent()
        _background()
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


def _spawn(work: Callable[[], object]) -> tuple[int, int]:
    """Fork a child computing ``work``: its pid, and the read end of its answer."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        os.close(read_end)
        _child(work, write_end)
    os.close(write_end)
    return pid, read_end


async def run_forked_beside(helper: Callable[[], H], work: Callable[[Callable[[], H]], T]) -> T:
    """``work`` and ``helper`` in two forks made at the same instant (one snapshot of this
    process), on two cores: ``work`` gets a function that waits for the helper's answer
    in its own process, so it computes its part first and combines the two there, and
    only its answer comes back here. Cancelling kills both. Without ``fork``, one thread
    computes the helper's part when ``work`` asks for it."""
    if not FORK_AVAILABLE:
        return await asyncio.to_thread(work, helper)
    helper_pid, helper_answer = _spawn(helper)

    def helpers_answer() -> H:
        # In the main fork: the helper's whole answer, once it has written it.
        with os.fdopen(helper_answer, "rb", closefd=True) as pipe:
            data = pipe.read()
        result: H = _answer(data, None)  # its exit status is the parent's to collect
        return result

    try:
        pid, read_end = _spawn(lambda: work(helpers_answer))
    except BaseException:
        os.kill(helper_pid, signal.SIGKILL)
        os.waitpid(helper_pid, 0)
        raise
    finally:
        os.close(helper_answer)  # the main fork holds its own copy; it is the reader
    try:
        data, status = await asyncio.shield(asyncio.to_thread(_collect, pid, read_end))
    except asyncio.CancelledError:
        for child in (pid, helper_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        raise
    finally:
        # The helper has ended by now, unless the main fork died before reading it: then
        # its next write fails (no reader left) and it ends too.
        await asyncio.to_thread(os.waitpid, helper_pid, 0)
    result: T = _answer(data, status)
    return result


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
            os.kill(pid, signal.SIGKILL)
        raise
    result: T = _answer(data, status)
    return result
