"""Work forked off the worker: its answer comes back, its failures are clear errors."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from core.topic_store import TopicStore
from hub.forked import (
    CHILD_NICENESS,
    FORK_AVAILABLE,
    ForkedWorkFailed,
    StandingFork,
    run_forked,
    run_forked_beside,
)

pytestmark = pytest.mark.skipif(not FORK_AVAILABLE, reason="fork is used on Linux only")


def test_the_work_runs_in_another_process_on_the_state_at_the_fork() -> None:
    """The child computes on the parent's data as it was at the fork, at a lower priority
    than the worker, and only the answer comes back; a change the parent makes afterwards
    is not seen by the child."""
    state = {"items": list(range(100_000))}

    def work() -> tuple[int, int, int]:
        time.sleep(0.3)  # the parent changes its state meanwhile
        return os.getpid(), os.nice(0), sum(state["items"])

    async def main() -> tuple[int, int, int]:
        task = asyncio.create_task(run_forked(work))
        await asyncio.sleep(0.1)
        state["items"] = [1]
        return await task

    pid, niceness, total = asyncio.run(main())
    assert pid != os.getpid()
    assert niceness == min(19, os.nice(0) + CHILD_NICENESS)
    assert total == sum(range(100_000))


def test_an_exception_in_the_work_is_raised_with_its_traceback() -> None:
    """What the work raised is re-raised here as ForkedWorkFailed, naming the error."""

    def work() -> None:
        raise ValueError("team T9 has no plan")

    with pytest.raises(ForkedWorkFailed, match=r"(?s)ValueError: team T9 has no plan"):
        asyncio.run(run_forked(work))


def test_a_child_that_dies_without_answering_is_an_error() -> None:
    """A child that exits before answering is reported with its exit status."""

    def work() -> None:
        os._exit(3)

    with pytest.raises(ForkedWorkFailed, match="without an answer"):
        asyncio.run(run_forked(work))


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie nobody reaped yet has), waiting up to
    10 s for it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


async def _cancel_once_started(start: Callable[[], Awaitable[object]], marker: Path) -> None:
    """Start the work, cancel it once the child wrote its pid to ``marker``, and check
    the cancellation reached the caller."""
    task = asyncio.ensure_future(start())
    while not marker.exists() or not marker.read_text():
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_cancelling_kills_the_child(tmp_path: Path) -> None:
    """A cancelled evaluation (the worker stopping) leaves no child behind."""
    marker = tmp_path / "pid"

    def work() -> None:
        marker.write_text(str(os.getpid()))
        time.sleep(60)

    asyncio.run(_cancel_once_started(lambda: run_forked(work), marker))
    assert _gone(int(marker.read_text())), "the forked child is still running"


def test_two_halves_run_in_two_processes_of_one_snapshot_and_combine_in_the_main_one() -> None:
    """The helper and the main work each run in a process of their own, at the same time
    and at the same lower priority, on the parent's state as it was when the work was
    forked (a change the parent makes afterwards reaches neither); the main work reads
    the helper's answer, several pipe buffers long, and only the combined answer comes
    back."""
    state = {"items": list(range(100_000))}

    def helper() -> tuple[int, int, float, list[int]]:
        return os.getpid(), os.nice(0), time.monotonic(), state["items"]  # ~500 kB pickled

    def work(
        half: Callable[[], tuple[int, int, float, list[int]]],
    ) -> tuple[int, int, int, int, float]:
        began = time.monotonic()
        time.sleep(0.3)  # the parent changes its state meanwhile
        helper_pid, helper_niceness, helper_began, items = half()
        total = sum(items) + sum(state["items"])
        return os.getpid(), helper_pid, helper_niceness, total, helper_began - began

    async def main() -> tuple[int, int, int, int, float]:
        task = asyncio.create_task(run_forked_beside(helper, work))
        await asyncio.sleep(0.1)
        state["items"] = [1]
        return await task

    pid, helper_pid, niceness, total, apart = asyncio.run(main())
    assert len({pid, helper_pid, os.getpid()}) == 3
    assert niceness == min(19, os.nice(0) + CHILD_NICENESS)
    assert total == 2 * sum(range(100_000))
    assert abs(apart) < 0.25  # side by side, not one after the other


def test_a_failing_helper_fails_the_work_with_its_traceback() -> None:
    """What the helper raised reaches the caller as ForkedWorkFailed, naming the error."""

    def helper() -> int:
        raise KeyError("sprint-7")

    def work(half: Callable[[], int]) -> int:
        return half() + 1

    with pytest.raises(ForkedWorkFailed, match=r"(?s)KeyError: 'sprint-7'"):
        asyncio.run(run_forked_beside(helper, work))


def test_cancelling_the_pair_kills_both_children(tmp_path: Path) -> None:
    """A cancelled evaluation leaves neither the main fork nor its helper behind."""
    pids = tmp_path / "pids"
    pids.mkdir()

    def helper() -> None:
        (pids / "helper").write_text(str(os.getpid()))
        time.sleep(60)

    def work(half: Callable[[], None]) -> None:
        (pids / "main").write_text(str(os.getpid()))
        half()

    async def main() -> None:
        task = asyncio.create_task(run_forked_beside(helper, work))
        while len([p for p in pids.iterdir() if p.read_text()]) < 2:
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    for name in ("helper", "main"):
        assert _gone(int((pids / name).read_text())), f"the {name} fork is still running"


class _Counts(TopicStore):
    """A store of numbers by key: what a standing fork's work reads."""

    def __init__(self) -> None:
        super().__init__(["numbers"])
        self.values: dict[str, int] = {}

    def _apply(self, _topic: str, key: str, value: object) -> None:
        if value is None:
            self.values.pop(key, None)
        else:
            assert isinstance(value, int)
            self.values[key] = value


def _standing(
    store: _Counts, **options: Any
) -> tuple[StandingFork[int, tuple[int, int]], Callable[[int], tuple[int, int]]]:
    """A standing fork over ``store``; its work answers (pid, the store's sum x factor)."""
    fork: StandingFork[int, tuple[int, int]] = StandingFork([store], **options)

    def work(factor: int) -> tuple[int, int]:
        return os.getpid(), factor * sum(store.values.values())

    return fork, work


def test_a_standing_fork_answers_every_call_with_the_records_applied_since() -> None:
    """One fork answers call after call: each sees every record the store applied
    before the call (sent as its journal, thousands of them over several frames), and
    not a change made around ``apply``, which proves it reads its own copy. Closing it
    ends the process and the journal."""
    store = _Counts()
    store.apply("numbers", "a", 1)
    fork, work = _standing(store)
    basis = ("config",)

    async def main() -> list[tuple[int, int]]:
        answers = [await fork.call(work, 1, basis)]
        for n in range(3_000):
            store.apply("numbers", f"k{n}", 2)
        store.apply("numbers", "a", None)
        answers.append(await fork.call(work, 10, basis))
        store.values["b"] = 1_000_000  # not a record: the fork never hears of it
        answers.append(await fork.call(work, 1, basis))
        return answers

    try:
        first, second, third = asyncio.run(main())
    finally:
        fork.close()
    assert first[0] == second[0] == third[0] != os.getpid()
    assert fork.forks == 1
    assert first[1] == 1 and second[1] == 10 * 6_000 and third[1] == 6_000
    assert store.journal is None
    assert _gone(first[0]), "the standing fork is still running"


def test_a_new_fork_is_made_when_its_basis_journal_or_age_no_longer_serve() -> None:
    """The fork is made anew, reading the store as it is, when the objects its work was
    made with are no longer the same, when more records came than its journal keeps
    (a backfill), and when it is older than its age limit; otherwise it stays."""
    store = _Counts()
    now = [0.0]
    fork, work = _standing(store, journal_limit=10, max_age=60.0, clock=lambda: now[0])
    config = {"version": 1}

    async def main() -> list[tuple[int, int]]:
        answers = [await fork.call(work, 1, (config,))]
        answers.append(await fork.call(work, 1, (dict(config),)))
        basis = (config,)
        answers.append(await fork.call(work, 1, basis))
        for n in range(11):
            store.values[f"k{n}"] = 1  # held here ...
            store.apply("numbers", f"k{n}", 1)  # ... and journaled past the limit
        answers.append(await fork.call(work, 1, basis))
        now[0] = 59.0
        answers.append(await fork.call(work, 1, basis))
        now[0] = 61.0
        answers.append(await fork.call(work, 1, basis))
        return answers

    try:
        pids = [pid for pid, _ in asyncio.run(main())]
    finally:
        fork.close()
    assert pids[0] != pids[1] != pids[2] != pids[3]  # new basis, new basis, overflow
    assert pids[4] == pids[3] != pids[5]  # young enough, then too old
    assert fork.forks == 5


def test_a_failure_in_a_standing_fork_is_raised_and_the_next_call_forks_anew() -> None:
    """What the work raised comes back as ForkedWorkFailed with its traceback; that fork
    ends (its copy may be half updated) and the next call gets a fresh one."""
    store = _Counts()
    fork: StandingFork[int, int] = StandingFork([store])

    def work(n: int) -> int:
        if n < 0:
            raise ValueError(f"no plan for {n}")
        return os.getpid()

    async def main() -> tuple[int, int]:
        first = await fork.call(work, 1, ())
        with pytest.raises(ForkedWorkFailed, match=r"(?s)ValueError: no plan for -1"):
            await fork.call(work, -1, ())
        return first, await fork.call(work, 1, ())

    try:
        first, second = asyncio.run(main())
    finally:
        fork.close()
    assert first != second and fork.forks == 2
    assert _gone(first), "the failed fork is still running"


def test_cancelling_a_call_ends_the_standing_fork(tmp_path: Path) -> None:
    """A cancelled call (the worker stopping mid-evaluation) leaves no fork behind."""
    marker = tmp_path / "pid"
    store = _Counts()
    fork: StandingFork[int, None] = StandingFork([store])

    def work(_: int) -> None:
        marker.write_text(str(os.getpid()))
        time.sleep(60)

    asyncio.run(_cancel_once_started(lambda: fork.call(work, 1, ()), marker))
    assert _gone(int(marker.read_text())), "the standing fork is still running"
    assert store.journal is None


def test_a_standing_fork_asked_nothing_for_its_age_limit_ends_by_itself() -> None:
    """A worker that stops evaluating (it is no longer the leader) does not keep its fork
    and the memory copied for it: the fork ends once asked nothing for ``max_age``, and
    the next call makes a new one."""
    store = _Counts()
    fork, work = _standing(store, max_age=0.5)

    async def main() -> tuple[int, bool, int]:
        first, _ = await fork.call(work, 1, ())
        ended = await asyncio.to_thread(_gone, first)
        second, _ = await fork.call(work, 1, ())
        return first, ended, second

    try:
        first, ended, second = asyncio.run(main())
    finally:
        fork.close()
    assert ended, "the idle fork is still running"
    assert second != first and fork.forks == 2
