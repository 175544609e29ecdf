"""The job scheduler on a virtual clock with an injected wall clock: exact fire times, overruns,
failures, shutdown, and exactly-once fires across instances sharing a database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import trio
import trio.testing
from croniter import croniter

from actors.jobs import (
    DatabaseClaims,
    MemoryClaims,
    ScheduledJob,
    next_fire,
    open_scheduler,
)
from storage import migrate
from storage.config import DatabaseConfig
from storage.database import Database, open_database
from storage.repos import job_runs
from storage.repos.job_runs import Claim

# a Monday 00:10:07 in a leap year: the week crosses Feb 29 and a month end
WALL0 = datetime(2024, 2, 26, 0, 10, 7, tzinfo=UTC)


def wall_clock(origin: datetime = WALL0) -> Callable[[], datetime]:
    """A wall clock that moves with Trio's (virtual) clock, starting at `origin`."""
    t0 = trio.current_time()
    return lambda: origin + timedelta(seconds=trio.current_time() - t0)


def expected_fires(schedule: str, start: datetime, end: datetime) -> list[datetime]:
    fields = len(schedule.split())
    it = croniter(schedule, start, ret_type=datetime, second_at_beginning=fields == 6)
    out = []
    while (fire := it.get_next()) <= end:
        out.append(fire)
    return out


def recorder(
    log: list[tuple[str, datetime]], name: str, wall: Callable[[], datetime]
) -> ScheduledJob:
    async def run(now: datetime) -> str:
        log.append((name, wall()))
        return "ok"

    return ScheduledJob(name, "", run)


def test_next_fire_reads_five_and_six_field_expressions_in_utc() -> None:
    assert next_fire("0 * * * *", WALL0) == datetime(2024, 2, 26, 1, tzinfo=UTC)
    assert next_fire("*/15 * * * * *", WALL0) == datetime(2024, 2, 26, 0, 10, 15, tzinfo=UTC)
    assert next_fire("0 0 29 2 *", WALL0) == datetime(2024, 2, 29, tzinfo=UTC)
    assert next_fire("0 0 1 * *", datetime(2024, 2, 29, 23, 59, tzinfo=UTC)) == datetime(
        2024, 3, 1, tzinfo=UTC
    )


async def test_a_week_of_fires_at_exactly_the_expected_times(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wall = wall_clock()
    log: list[tuple[str, datetime]] = []
    schedules = {
        "hourly": "0 * * * *",
        "nightly": "30 3 * * *",
        "seconds": "*/20 0 12 * * *",  # 12:00:00, :20, :40 every day (seconds first)
        "leap": "0 6 29 2 *",
    }
    jobs = [
        ScheduledJob(name, schedule, recorder(log, name, wall).run)
        for name, schedule in schedules.items()
    ]
    claims = MemoryClaims()
    async with open_scheduler(jobs, claims, stop_timeout=5, wall=wall) as scheduler:
        await trio.sleep(7 * 86400)
        stats = {j.name: j for j in scheduler.statistics().jobs}
    end = WALL0 + timedelta(days=7)
    for name, schedule in schedules.items():
        fired = [at for job, at in log if job == name]
        assert fired == expected_fires(schedule, WALL0, end), name
    assert len([1 for job, _ in log if job == "hourly"]) == 7 * 24
    assert len([1 for job, _ in log if job == "seconds"]) == 7 * 3
    assert [at for job, at in log if job == "leap"] == [datetime(2024, 2, 29, 6, tzinfo=UTC)]
    assert stats["hourly"].runs == 168 and stats["hourly"].failures == 0
    assert stats["hourly"].next_fire == datetime(2024, 3, 4, 1, tzinfo=UTC)
    assert stats["nightly"].last_result == "success"
    assert all(run.success for run in claims.runs.values())


async def test_an_overrunning_run_is_not_started_twice(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wall = wall_clock()
    starts: list[datetime] = []

    async def slow(now: datetime) -> str:
        starts.append(wall())
        await trio.sleep(90 * 60)  # runs past the next hourly fire
        return "done"

    claims = MemoryClaims()
    job = ScheduledJob("slow", "0 * * * *", slow)
    async with open_scheduler([job], claims, stop_timeout=5, wall=wall) as scheduler:
        await trio.sleep(6 * 3600)
        stats = scheduler.statistics().jobs[0]
    hour = datetime(2024, 2, 26, tzinfo=UTC)
    assert starts == [hour + timedelta(hours=h) for h in (1, 3, 5)]
    assert stats.skipped == 3  # 02:00, 04:00, 06:00 found the previous run still going
    assert stats.runs == 3


async def test_a_failing_job_is_recorded_counted_and_retried_at_the_next_fire(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    wall = wall_clock()
    attempts: list[datetime] = []

    async def flaky(now: datetime) -> str:
        attempts.append(wall())
        if len(attempts) <= 2:
            raise RuntimeError(f"boom {len(attempts)}")
        return "fine"

    claims = MemoryClaims()
    job = ScheduledJob("flaky", "*/10 * * * *", flaky)
    async with open_scheduler([job], claims, stop_timeout=5, wall=wall) as scheduler:
        await trio.sleep(3600)
        stats = scheduler.statistics().jobs[0]
    assert len(attempts) == 6 and attempts[1] - attempts[0] == timedelta(minutes=10)
    assert (stats.failures, stats.runs, stats.last_result) == (2, 6, "success")
    outcomes = [(r.success, r.message) for r in sorted(claims.runs.values(), key=lambda r: r.id)]
    assert outcomes[:3] == [
        (False, "RuntimeError: boom 1"),
        (False, "RuntimeError: boom 2"),
        (True, "fine"),
    ]
    assert "boom 1" in caplog.text


async def test_a_claim_that_fails_is_a_failure_not_a_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wall = wall_clock()
    ran: list[datetime] = []

    class DownThenUp(MemoryClaims):
        failures = 0

        async def claim(self, job: str, fire: datetime, now: datetime) -> Claim:
            if self.failures < 1:
                self.failures += 1
                raise OSError("database down")
            return await super().claim(job, fire, now)

    async def work(now: datetime) -> str:
        ran.append(wall())
        return "ok"

    job = ScheduledJob("j", "0 * * * *", work)
    async with open_scheduler([job], DownThenUp(), stop_timeout=5, wall=wall) as scheduler:
        await trio.sleep(2 * 3600)
        stats = scheduler.statistics().jobs[0]
    assert ran == [datetime(2024, 2, 26, 2, tzinfo=UTC)]  # 01:00 could not be claimed
    assert (stats.failures, stats.runs, stats.last_result) == (1, 1, "success")


async def test_stop_waits_for_a_run_up_to_the_timeout_then_cancels_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wall = wall_clock()

    async def endless(now: datetime) -> str:
        await trio.sleep_forever()
        return "never"  # pragma: no cover

    async def short(now: datetime) -> str:
        await trio.sleep(2)
        return "short done"

    claims = MemoryClaims()
    jobs = [ScheduledJob("endless", "0 1 * * *", endless)]
    async with open_scheduler(jobs, claims, stop_timeout=5, wall=wall):
        await trio.sleep(3600)  # 01:00 has fired; the run goes on
        stopping = trio.current_time()
    assert trio.current_time() == pytest.approx(stopping + 5)
    (run,) = claims.runs.values()
    assert (run.success, run.message) == (False, "interrupted by shutdown")

    claims = MemoryClaims()
    jobs = [ScheduledJob("short", "0 2 * * *", short)]
    async with open_scheduler(jobs, claims, stop_timeout=5, wall=wall_clock()):
        await trio.sleep(6594)  # stop 1 s after the 02:00 fire (00:10:07 + 6593 s)
        stopping = trio.current_time()
    assert trio.current_time() == pytest.approx(stopping + 1)
    (run,) = claims.runs.values()
    assert (run.success, run.message) == (True, "short done")


async def test_fires_follow_the_wall_clock_not_trio_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # a wall clock running at half speed (or stepped back): the scheduler waits again
    # instead of firing early, and the fire happens when the wall clock says so
    t0 = trio.current_time()

    def slow_wall() -> datetime:
        return WALL0 + timedelta(seconds=(trio.current_time() - t0) / 2)

    fired: list[tuple[datetime, float]] = []

    async def work(now: datetime) -> str:
        fired.append((now, trio.current_time() - t0))
        return "ok"

    job = ScheduledJob("j", "0 * * * *", work)
    async with open_scheduler([job], MemoryClaims(), stop_timeout=1, wall=slow_wall):
        await trio.sleep(2 * 2993 + 10)
    ((at, elapsed),) = fired
    assert at == datetime(2024, 2, 26, 1, tzinfo=UTC)
    assert elapsed == pytest.approx(2 * 2993)


# --- several instances on one database ---------------------------------------------------------


async def test_claims_in_job_runs(db: Database) -> None:
    now = WALL0
    fire = datetime(2024, 2, 26, 1, tzinfo=UTC)
    stale = timedelta(hours=6)
    first = await db.write(job_runs.claim, "j", fire, now=now, stale_after=stale)
    again = await db.write(job_runs.claim, "j", fire, now=now, stale_after=stale)
    assert first.outcome == "claimed" and again.outcome == "taken"
    later = await db.write(
        job_runs.claim, "j", fire + timedelta(hours=1), now=now, stale_after=stale
    )
    assert later.outcome == "busy" and later.blocking and later.blocking.fire_time == fire
    # an unfinished run older than `stale_after` is presumed dead and no longer blocks
    much_later = now + timedelta(hours=7)
    revived = await db.write(
        job_runs.claim, "j", fire + timedelta(hours=7), now=much_later, stale_after=stale
    )
    assert revived.outcome == "claimed"
    assert first.run_id is not None
    await db.write(job_runs.finish, first.run_id, now=now, success=True, message="x" * 5000)
    last = await db.read(job_runs.last_runs, ["j", "other"])
    assert set(last) == {"j"} and last["j"].fire_time == fire + timedelta(hours=7)
    history = await db.read(job_runs.recent_runs, "j")
    assert [len(r.message or "") for r in history] == [0, 2048]


async def test_two_instances_on_one_postgresql_run_each_fire_once(
    postgres_url: str, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.rate = 30  # virtual seconds per real second; claims take real milliseconds
    ran: list[tuple[str, datetime]] = []
    config = DatabaseConfig(url=postgres_url)
    async with open_database(config) as db_a, open_database(config) as db_b:
        await trio.to_thread.run_sync(migrate.upgrade, db_a.engine)

        def job(instance: str) -> ScheduledJob:
            async def run(now: datetime) -> str:
                ran.append((instance, now))
                return instance

            return ScheduledJob("tick", "*/5 * * * * *", run)

        stale = timedelta(hours=1)
        wall = wall_clock()
        start = wall()
        async with (
            open_scheduler([job("a")], DatabaseClaims(db_a, stale), stop_timeout=5, wall=wall) as a,
            open_scheduler([job("b")], DatabaseClaims(db_b, stale), stop_timeout=5, wall=wall) as b,
        ):
            await trio.sleep(61)
        sa_, sb = a.statistics().jobs[0], b.statistics().jobs[0]
        recorded = sorted(await db_a.read(job_runs.recent_runs, "tick", 1000), key=lambda r: r.id)
    fires = [r.fire_time for r in recorded]
    # every fire since the start, none twice, none missing
    assert fires == expected_fires("*/5 * * * * *", start, fires[-1]) and len(fires) >= 12
    assert all(r.success for r in recorded)
    assert len(ran) == len(fires)  # each fire ran once, on one instance or the other
    assert sa_.runs + sb.runs == len(fires)
    assert sa_.taken_elsewhere + sb.taken_elsewhere == len(fires)
    assert {r.message for r in recorded} <= {"a", "b"}
