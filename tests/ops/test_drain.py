"""The graceful drain through the real supervision tree, on a virtual clock.

The HTTP server is replaced by a stand-in that holds streams through the connection tracker
the way the proxy routes do, so deadlines and ordering are exact. The clock jumps only after
50 ms of real idleness: the database works in threads, and a clock that jumped while a thread
ran would expire the flush budget in virtual time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import trio
import trio.testing

from actors.config import ShutdownConfig, UsageConfig
from ops.config import Settings
from ops.lifecycle import Lifecycle
from ops.serve import ServeHooks, run_service
from proxy.config import JwtConfig
from storage.config import DatabaseConfig
from storage.database import create_engine
from storage.schema import usage_records
from tests.factories import usage_event
from web.services import Services

WALL = datetime(2026, 11, 25, tzinfo=UTC)


def settings(tmp_path: Path, **shutdown: float) -> Settings:
    return Settings(
        jwt=JwtConfig(secret="x" * 40),
        database=DatabaseConfig(url=f"sqlite:///{tmp_path}/drain.db"),
        usage=UsageConfig(journal_path=str(tmp_path / "journal.jsonl")),
        shutdown=ShutdownConfig(**shutdown),
    )


class FakeServer:
    """Serves `streams` (name -> duration) like the proxy: tracked, metered, cut at the deadline."""

    def __init__(self, streams: dict[str, float]) -> None:
        self.streams = streams
        self.ended: dict[str, tuple[float, bool]] = {}
        self.user_id = 0

    async def __call__(
        self, services: Services, shutdown_trigger: Any, *, task_status: trio.TaskStatus[list[str]]
    ) -> None:
        self.user_id = await services.db.write(_user)
        async with trio.open_nursery() as connections:
            for name, duration in self.streams.items():
                connections.start_soon(self._stream, services, name, duration)
            task_status.started(["fake://"])
            await shutdown_trigger()  # hypercorn: stop accepting, let connections finish

    async def _stream(self, services: Services, name: str, duration: float) -> None:
        with services.tracker.track(
            user_id=self.user_id, route="test.stream", model="m", streaming=True, wall=WALL
        ) as request:
            try:
                with request.cancel_scope:
                    await trio.sleep(duration)
                self.ended[name] = (trio.current_time(), request.cut_by_drain)
            finally:
                # like the proxy routes: usage is recorded even when the request is cancelled
                with trio.CancelScope(shield=True):
                    await services.usage.record(
                        usage_event(self.user_id, request_id=name, partial=True)
                        if name not in self.ended
                        else usage_event(
                            self.user_id, request_id=name, partial=request.cut_by_drain
                        )
                    )


@pytest.fixture
def clock(mock_clock: trio.testing.MockClock) -> trio.testing.MockClock:
    mock_clock.autojump_threshold = 0.05
    return mock_clock


def _user(conn: sa.Connection) -> int:
    from tests.factories import insert_user

    return insert_user(conn)


def rows(tmp_path: Path) -> dict[str, bool]:
    engine = create_engine(DatabaseConfig(url=f"sqlite:///{tmp_path}/drain.db"))
    with engine.connect() as conn:
        result = conn.execute(sa.select(usage_records.c.request_id, usage_records.c.partial))
        found = {r.request_id: r.partial for r in result}
    engine.dispose()
    return found


async def test_drain_order_and_exact_deadline(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    server = FakeServer({"short": 5.0, "long": 1000.0})
    lifecycle = Lifecycle()
    cfg = settings(tmp_path, streaming_timeout_seconds=30, readiness_delay_seconds=2)
    code: list[int] = []

    async def run(task_status: trio.TaskStatus[list[str]]) -> None:
        code.append(
            await run_service(
                cfg,
                lifecycle=lifecycle,
                hooks=ServeHooks(http_server=server, watch_signals=False),
                task_status=task_status,
            )
        )

    async with trio.open_nursery() as nursery:
        await nursery.start(run)
        await trio.sleep(1)
        drain_at = trio.current_time()
        lifecycle.begin_drain("SIGTERM")
        assert lifecycle.draining  # readiness answers 503 from this instant

    assert code == [0]
    # the short stream finished on its own; the long one was cut exactly at
    # signal + readiness delay + streaming timeout
    assert server.ended["short"][1] is False
    assert server.ended["long"] == (drain_at + 2 + 30, True)
    steps = [step for _, step in lifecycle.timeline]
    assert steps == [
        "drain started (SIGTERM)",
        "listener closed",
        "requests drained",
        "usage flushed",
        "cache closed",
        "database closed",
        "stopped",
    ]
    times = dict((step, t) for t, step in lifecycle.timeline)
    assert times["listener closed"] == drain_at + 2
    assert times["requests drained"] >= drain_at + 32  # after the last stream ended
    assert times["requests drained"] <= times["usage flushed"] <= times["database closed"]
    # every stream's usage reached the database, the cut one flagged partial
    assert rows(tmp_path) == {"short": False, "long": True}


async def test_second_signal_forces_exit_and_loses_no_usage(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    server = FakeServer({"long": 1000.0})
    lifecycle = Lifecycle()
    cfg = settings(tmp_path, streaming_timeout_seconds=300)
    code: list[int] = []

    async def run(task_status: trio.TaskStatus[list[str]]) -> None:
        hooks = ServeHooks(http_server=server, watch_signals=False)
        code.append(
            await run_service(cfg, lifecycle=lifecycle, hooks=hooks, task_status=task_status)
        )

    async with trio.open_nursery() as nursery:
        await nursery.start(run)
        lifecycle.begin_drain("SIGTERM")
        await trio.sleep(10)
        forced_at = trio.current_time()
        lifecycle.force("second SIGTERM")
    assert code == [1]
    assert trio.current_time() - forced_at < 1  # at once, not at the 300 s deadline
    assert "long" not in server.ended
    # a write already in flight completes; whatever was still held went to the journal:
    # the row is in exactly one of them
    path = tmp_path / "journal.jsonl"
    journaled = path.read_text().count('"request_id":"long"') if path.exists() else 0
    in_database = 1 if "long" in rows(tmp_path) else 0
    assert journaled + in_database == 1


async def test_drain_with_nothing_in_flight_is_immediate(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    lifecycle = Lifecycle()
    cfg = settings(tmp_path)
    hooks = ServeHooks(http_server=FakeServer({}), watch_signals=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(run_service, cfg, lifecycle=lifecycle, hooks=hooks))
        start = trio.current_time()
        lifecycle.begin_drain("SIGINT")
    assert trio.current_time() - start < 1
