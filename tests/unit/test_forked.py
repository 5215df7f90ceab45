"""Work forked off the worker: its answer comes back, its failures are clear errors."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from hub.forked import CHILD_NICENESS, FORK_AVAILABLE, ForkedWorkFailed, run_forked

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


def test_cancelling_kills_the_child(tmp_path: Path) -> None:
    """A cancelled evaluation (the worker stopping) leaves no child behind."""
    marker = tmp_path / "pid"

    def work() -> None:
        marker.write_text(str(os.getpid()))
        time.sleep(60)

    async def main() -> None:
        task = asyncio.create_task(run_forked(work))
        while not marker.exists() or not marker.read_text():
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    pid = int(marker.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the forked child is still running")
