"""The connection tracker: registration, snapshots, and drain deadlines on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime

import trio
import trio.testing

from actors.config import ShutdownConfig
from actors.connection_tracker import open_connection_tracker

WALL = datetime(2026, 11, 25, tzinfo=UTC)


async def test_streams_end_at_their_deadline_and_requests_at_theirs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ended: dict[str, float] = {}
    async with open_connection_tracker(ShutdownConfig()) as tracker:

        async def work(name: str, streaming: bool, duration: float) -> None:
            with tracker.track(
                user_id=1, route="r", model="m", streaming=streaming, wall=WALL
            ) as req:
                with req.cancel_scope:
                    await trio.sleep(duration)
                ended[name] = trio.current_time()
                assert req.cut_by_drain == (duration > 100)

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(work, "long-stream", True, 1000)
            nursery.start_soon(work, "short-stream", True, 5)
            nursery.start_soon(work, "long-request", False, 1000)
            await trio.sleep(1)
            assert tracker.statistics().active_streams == 2
            assert tracker.statistics().active_requests == 1
            assert [v.route for v in tracker.snapshot()] == ["r", "r", "r"]
            tracker.begin_drain(streams_deadline=start + 20, requests_deadline=start + 40)
            await tracker.wait_drained()
        assert ended == {
            "short-stream": start + 5,
            "long-stream": start + 20,
            "long-request": start + 40,
        }
        stats = tracker.statistics()
        assert stats.draining and stats.cut_at_deadline == 2 and stats.total_opened == 3


async def test_requests_arriving_during_the_drain_get_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_connection_tracker(ShutdownConfig()) as tracker:
        start = trio.current_time()
        tracker.begin_drain(streams_deadline=start + 3, requests_deadline=start + 3)
        await trio.sleep(1)
        with tracker.track(user_id=1, route="r", model="m", streaming=True, wall=WALL) as req:
            with req.cancel_scope:
                await trio.sleep(100)
        assert trio.current_time() == start + 3
        with trio.fail_after(1):
            await tracker.wait_drained()


async def test_a_departed_client_gets_its_budget_and_is_not_counted_as_cut(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_connection_tracker(ShutdownConfig()) as tracker:
        start = trio.current_time()
        with tracker.track(user_id=1, route="r", model="m", streaming=True, wall=WALL) as req:
            req.client_left(budget_seconds=7)
            with req.cancel_scope:
                await trio.sleep(100)
            assert trio.current_time() == start + 7
            assert req.client_gone and not req.cut_by_drain
        # a drain deadline earlier than the budget still wins
        tracker.begin_drain(streams_deadline=start + 9, requests_deadline=start + 9)
        await trio.sleep(1)
        with tracker.track(user_id=1, route="r", model="m", streaming=True, wall=WALL) as req:
            req.client_left(budget_seconds=60)
            with req.cancel_scope:
                await trio.sleep(100)
        assert trio.current_time() == start + 9
        assert tracker.statistics().cut_at_deadline == 0
