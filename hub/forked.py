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

Work repeated on a schedule (the drift rules, every evaluation) keeps its fork standing
(``StandingFork``): the fork itself, not its answer, is what a large worker pays on its
event loop (~50 ms of page tables at 50x the demo, every query behind it waiting), and
the snapshot it holds can be kept current instead. The stores the work reads keep a
``Journal`` of the records they apply; each call sends the fork those records with the
request, and the fork applies them to its copy before working: the same records in the
same order, so the same state. A new fork is made only when the journal could not keep
up (too many records: a backfill), when what the work was forked with changed, or when
the fork is old: every page the worker writes while a fork lives is copied for it, and
a fresh fork gives that memory back.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any, Generic, TypeVar

from core.topic_store import Journal, TopicStore
from hub.processes import die_with_parent

__all__ = [
    "ForkedWorkFailed",
    "FORK_AVAILABLE",
    "StandingFork",
    "beside",
    "run_forked",
    "run_forked_beside",
]

T = TypeVar("T")
H = TypeVar("H")
R = TypeVar("R")
FORK_AVAILABLE = sys.platform == "linux" and hasattr(os, "fork")
CHILD_NICENESS = 10


class ForkedWorkFailed(RuntimeError):
    """The work raised in the child, or the child died before answering."""


def _become_child(nested: bool) -> None:
    """What every fork does first: leave the parent's signals, die with it, and (unless
    forked by a fork, already background work) step back behind folding and the API."""
    signal.set_wakeup_fd(-1)  # the parent's event loop must not hear our signals
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    die_with_parent()
    if not nested:
        os.nice(CHILD_NICENESS)


def _outcome(work: Callable[[], object]) -> tuple[bool, bytes]:
    """Whether ``work`` succeeded, and its answer pickled or its failure's traceback:
    the parent raises it."""
    try:
        return True, pickle.dumps((True, work()), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # the parent reports it; the child only carries it
        text = "".join(traceback.format_exception(exc))
        return False, pickle.dumps((False, text), protocol=pickle.HIGHEST_PROTOCOL)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _child(work: Callable[[], object], out: int, nested: bool) -> None:
    """In the fork: compute, write the pickled answer, leave without any cleanup."""
    status = 0
    try:
        gc.disable()  # collections would write to every object's header: copied pages
        _become_child(nested)
        _write_all(out, _outcome(work)[1])
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
    return await run_forked(lambda: beside(helper, work))


def beside(helper: Callable[[], H], work: Callable[[Callable[[], H]], T]) -> T:
    """In a fork: fork ``helper`` off it and run ``work``, which reads the helper's
    answer when it needs it. Where there is no fork, the helper runs when asked."""
    if not FORK_AVAILABLE:
        return work(helper)
    helper_pid, helper_answer = _spawn(helper, nested=True)

    def helpers_answer() -> H:
        # Its whole answer, once written; if ``work`` fails first, the helper ends with
        # this process (``die_with_parent``).
        with os.fdopen(helper_answer, "rb", closefd=True) as pipe:
            data = pipe.read()
        _, status = os.waitpid(helper_pid, 0)
        result: H = _answer(data, status)
        return result

    return work(helpers_answer)


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


# --- a fork kept between calls ------------------------------------------------------

_LENGTH = struct.Struct("!Q")
RECORDS_PER_FRAME = 200  # the parent pickles a journal a frame at a time, in a thread


def _write_frame(pipe: IO[bytes], data: bytes) -> None:
    pipe.write(_LENGTH.pack(len(data)))
    pipe.write(data)


def _read_frame(pipe: IO[bytes]) -> bytes | None:
    """One frame, or None when the other end closed the pipe."""
    head = pipe.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    data = pipe.read(length)
    if len(data) < length:
        return None
    return data


def _serve(
    work: Callable[[Any], object],
    stores: Sequence[TopicStore],
    requests: int,
    answers: int,
    idle_limit: float,
) -> None:
    """In a standing fork: per request, apply the stores' journals, then answer it; until
    the parent closes the requests' pipe, or asks nothing for ``idle_limit`` seconds (a
    worker that is no longer the leader evaluates nothing: its fork must not hold its
    copied memory for good). A failure is answered, then the fork ends: its copy of the
    stores may be half updated."""
    status = 0
    try:
        _become_child(nested=False)
        # It lives for minutes: collections must run, but over what it makes, not the
        # inherited heap (scanning that would write every object's header: copied pages),
        # and between requests, not during one (a one-shot fork runs without any).
        gc.disable()
        gc.freeze()
        for store in stores:
            store.journal = None  # its own applies are the parent's, replayed
        with os.fdopen(requests, "rb") as incoming, os.fdopen(answers, "wb") as outgoing:
            while select.select([incoming], [], [], idle_limit)[0]:
                if (head := _read_frame(incoming)) is None:
                    break
                counts, request = pickle.loads(head)

                def answer(counts: list[int] = counts, request: Any = request) -> object:
                    for store, frames in zip(stores, counts, strict=True):
                        for _ in range(frames):
                            frame = _read_frame(incoming)
                            if frame is None:
                                raise EOFError("the parent closed the pipe mid-request")
                            for topic, key, value in pickle.loads(frame):
                                store.apply(topic, key, value)
                    return work(request)

                ok, outcome = _outcome(answer)
                _write_frame(outgoing, outcome)
                outgoing.flush()
                if not ok:
                    break
                gc.collect()  # while the parent reads the answer
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _reap(pid: int, pipes: Sequence[IO[bytes]]) -> None:
    """Kill a standing fork; collect it and close its pipes in a daemon thread: a big
    process takes milliseconds to tear down, which the event loop must not wait for,
    and a pipe still in use by a call being cancelled closes once that call let go."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)

    def collect() -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        for pipe in pipes:
            with contextlib.suppress(OSError, ValueError):
                pipe.close()

    threading.Thread(target=collect, name=f"reap-{pid}", daemon=True).start()


def _pack(
    journals: list[list[tuple[str, str, Any]]], request: Any
) -> tuple[bytes, list[bytes]]:
    """A request and the journals, as frames (run in a thread, a frame at a time, so the
    event loop gets the interpreter between frames)."""
    frames: list[bytes] = []
    counts = []
    for records in journals:
        chunks = [
            records[start : start + RECORDS_PER_FRAME]
            for start in range(0, len(records), RECORDS_PER_FRAME)
        ]
        counts.append(len(chunks))
        frames.extend(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL) for chunk in chunks)
    head = pickle.dumps((counts, request), protocol=pickle.HIGHEST_PROTOCOL)
    return head, frames


class StandingFork(Generic[R, T]):
    """A fork of this process answering requests on its snapshot of ``stores``, kept
    current by their journals (see the module's docstring).

    ``call(work, request, basis)``: ``work(request)`` computed in the fork. ``work`` and
    what it closes over are the fork's as they were when it was made; ``basis`` names
    the objects it closes over that are not in the stores (a configuration, the themes):
    when one of them is no longer the same object, a new fork is made with the ``work``
    given. Without ``fork`` the work runs in a thread on the live stores.
    """

    def __init__(
        self,
        stores: Sequence[TopicStore],
        *,
        max_age: float = 300.0,
        journal_limit: int = 5_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stores = tuple(stores)
        self.max_age, self.journal_limit, self.clock = max_age, journal_limit, clock
        self.forks = 0  # forks made, for the status and the tests
        self._pid: int | None = None
        self._pipes: tuple[IO[bytes], IO[bytes]] | None = None
        self._born = 0.0
        self._basis: tuple[object, ...] = ()

    def _current(self, basis: tuple[object, ...]) -> bool:
        if self._pid is None:
            return False
        lost = any(store.journal is None or store.journal.lost for store in self.stores)
        same = len(basis) == len(self._basis) and all(
            a is b for a, b in zip(basis, self._basis, strict=True)
        )
        return same and not lost and self.clock() - self._born < self.max_age

    def _fork(self, work: Callable[[R], T], basis: tuple[object, ...]) -> None:
        self.close()
        requests_read, requests_write = os.pipe()
        answers_read, answers_write = os.pipe()
        for store in self.stores:  # from this instant: nothing applied is missed
            store.journal = Journal(self.journal_limit)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            os.close(requests_write)
            os.close(answers_read)
            _serve(work, self.stores, requests_read, answers_write, self.max_age)
        os.close(requests_read)
        os.close(answers_write)
        self._pid, self._born, self._basis = pid, self.clock(), basis
        self._pipes = (os.fdopen(requests_write, "wb"), os.fdopen(answers_read, "rb"))
        self.forks += 1

    async def call(self, work: Callable[[R], T], request: R, basis: tuple[object, ...]) -> T:
        """``work(request)`` in the standing fork (made first if need be); its exception
        re-raised as ``ForkedWorkFailed``, after which the next call forks anew. The
        stores' state it sees is theirs at this call. Cancelling kills the fork."""
        if not FORK_AVAILABLE:
            return await asyncio.to_thread(work, request)
        if not self._current(basis):
            self._fork(work, basis)
        # Taken now, before any await: the fork's stores equal ours at this instant.
        journals = [store.journal.take() if store.journal else [] for store in self.stores]
        assert self._pipes is not None
        outgoing, incoming = self._pipes

        def exchange() -> bytes | None:
            head, frames = _pack(journals, request)
            try:
                _write_frame(outgoing, head)
                for frame in frames:
                    _write_frame(outgoing, frame)
                outgoing.flush()
                return _read_frame(incoming)
            except (OSError, ValueError):  # the fork died, or was ended meanwhile
                return None

        try:
            data = await asyncio.shield(asyncio.to_thread(exchange))
        except asyncio.CancelledError:
            self.close()
            raise
        try:
            result: T = _answer(data or b"", None)
        except ForkedWorkFailed:
            self.close()
            raise
        return result

    def close(self) -> None:
        """End the fork, if any, and stop keeping the stores' journals."""
        for store in self.stores:
            store.journal = None
        if self._pid is not None:
            _reap(self._pid, self._pipes or ())
        self._pid, self._pipes = None, None
