"""The supervisor restarts crashed actors with backoff and escalates when they keep crashing."""

from __future__ import annotations

from functools import partial

import pytest
import trio
import trio.testing

from actors.errors import ActorFailed
from actors.supervisor import RestartPolicy, SupervisorStatistics, supervise


async def test_restarts_with_exponential_backoff(autojump_clock: trio.testing.MockClock) -> None:
    starts: list[float] = []

    async def flaky(*, task_status: trio.TaskStatus[str]) -> None:
        starts.append(trio.current_time())
        task_status.started("handle")
        if len(starts) < 4:
            raise RuntimeError("boom")
        await trio.sleep_forever()

    stats = SupervisorStatistics("flaky")
    policy = RestartPolicy(max_restarts=5, window=60, initial_backoff=1, max_backoff=3)
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(partial(supervise, "flaky", flaky, policy=policy, stats=stats))
        assert handle == "handle"
        await trio.sleep(100)
        nursery.cancel_scope.cancel()
    t0 = starts[0]
    assert [s - t0 for s in starts] == [0, 1, 3, 6]  # backoff 1, 2, then capped at 3
    assert stats.restarts == 3
    assert stats.last_error == "RuntimeError: boom"


async def test_gives_up_after_too_many_crashes(autojump_clock: trio.testing.MockClock) -> None:
    async def hopeless(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        raise RuntimeError("always")

    policy = RestartPolicy(max_restarts=2, window=60, initial_backoff=0.5)
    with pytest.RaisesGroup(pytest.RaisesExc(ActorFailed, match="crashed 3 times")):
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(supervise, "hopeless", hopeless, policy=policy))


async def test_a_crash_before_start_is_fatal_at_once() -> None:
    async def broken(*, task_status: trio.TaskStatus[None]) -> None:
        raise ValueError("misconfigured")

    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="misconfigured")):
        async with trio.open_nursery() as nursery:
            await nursery.start(supervise, "broken", broken)
