"""The job scheduler actor: cron schedules in UTC from the wall clock, each fire run once.

Next fire times come from croniter applied to the injected wall clock (never "interval =
first delay"); the wait itself is a Trio sleep of the wall-clock difference, so tests drive
it with `autojump_clock` and a wall clock derived from Trio time. A fire is claimed before
it runs (`FireClaims`: the database's job_runs table across replicas), a fire that finds the
previous run of the same job still going is skipped and logged, and a failing job is
recorded and counted and simply runs again at its next fire.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import attrs
import trio
from croniter import croniter

from actors.supervisor import supervise
from storage.database import Database
from storage.repos import job_runs
from storage.repos.job_runs import Claim

log = logging.getLogger("bedrock.jobs")

FINISH_TIMEOUT = 2.0  # seconds to record how an interrupted run ended
Result = Literal["success", "failure", "interrupted", "skipped", "taken"]
JobFunction = Callable[[datetime], Awaitable[str]]


def next_fire(schedule: str, after: datetime) -> datetime:
    """The first fire of `schedule` strictly after `after`, in UTC (6 fields: seconds first)."""
    fields = len(schedule.split())
    it = croniter(
        schedule, after.astimezone(UTC), ret_type=datetime, second_at_beginning=fields == 6
    )
    fire: datetime = it.get_next()
    return fire.astimezone(UTC)


@attrs.frozen
class ScheduledJob:
    """A name, a cron expression, and the coroutine function run with the wall time."""

    name: str
    schedule: str
    run: JobFunction


class FireClaims(Protocol):
    """Where fires are claimed and their runs recorded."""

    async def claim(self, job: str, fire: datetime, now: datetime) -> Claim: ...

    async def finish(
        self, run_id: int, now: datetime, success: bool, message: str | None
    ) -> None: ...


@attrs.define(eq=False)
class DatabaseClaims:
    """Claims in `job_runs`: the unique (job_name, fire_time) picks one instance per fire."""

    db: Database
    stale_after: timedelta

    async def claim(self, job: str, fire: datetime, now: datetime) -> Claim:
        """Insert the fire; "taken" when another instance did first."""
        return await self.db.write(job_runs.claim, job, fire, now=now, stale_after=self.stale_after)

    async def finish(self, run_id: int, now: datetime, success: bool, message: str | None) -> None:
        """Record the run's end."""
        await self.db.write(job_runs.finish, run_id, now=now, success=success, message=message)


@attrs.define(eq=False)
class MemoryClaims:
    """Claims in this process only (tests, or a single instance without a database)."""

    runs: dict[tuple[str, datetime], job_runs.JobRun] = attrs.field(factory=dict)

    async def claim(self, job: str, fire: datetime, now: datetime) -> Claim:
        """Claim unless already claimed or a run of `job` is unfinished."""
        await trio.lowlevel.checkpoint()
        if (job, fire) in self.runs:
            return Claim("taken")
        for run in self.runs.values():
            if run.job_name == job and run.finished_at is None:
                return Claim("busy", blocking=run)
        run_id = len(self.runs) + 1
        self.runs[(job, fire)] = job_runs.JobRun(run_id, job, fire, now, None, None, None)
        return Claim("claimed", run_id=run_id)

    async def finish(self, run_id: int, now: datetime, success: bool, message: str | None) -> None:
        """Record the run's end."""
        await trio.lowlevel.checkpoint()
        for key, run in self.runs.items():
            if run.id == run_id:
                self.runs[key] = attrs.evolve(
                    run, finished_at=now, success=success, message=message
                )


@attrs.frozen
class JobStatistics:
    """One job as the scheduler sees it."""

    name: str
    schedule: str
    next_fire: datetime | None
    running: bool
    last_fire: datetime | None
    last_result: Result | None
    last_message: str | None
    runs: int
    failures: int
    skipped: int
    taken_elsewhere: int


@attrs.frozen
class SchedulerStatistics:
    """Every job, for /health, Prometheus and the admin page."""

    jobs: tuple[JobStatistics, ...]
    stopping: bool


@attrs.define
class _JobState:
    job: ScheduledJob
    next_fire: datetime | None = None
    running: bool = False
    last_fire: datetime | None = None
    last_result: Result | None = None
    last_message: str | None = None
    runs: int = 0
    failures: int = 0
    skipped: int = 0
    taken: int = 0

    def snapshot(self) -> JobStatistics:
        return JobStatistics(
            name=self.job.name,
            schedule=self.job.schedule,
            next_fire=self.next_fire,
            running=self.running,
            last_fire=self.last_fire,
            last_result=self.last_result,
            last_message=self.last_message,
            runs=self.runs,
            failures=self.failures,
            skipped=self.skipped,
            taken_elsewhere=self.taken,
        )


@attrs.define(eq=False)
class Scheduler:
    """Fires every job on its schedule until stopped; see the module docstring."""

    jobs: Sequence[ScheduledJob]
    claims: FireClaims
    wall: Callable[[], datetime] = attrs.field(default=lambda: datetime.now(UTC))
    _states: list[_JobState] = attrs.field(init=False)
    _loops: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    _idle: trio.Event = attrs.field(factory=trio.Event)
    _active: int = 0
    _stopping: bool = False

    def __attrs_post_init__(self) -> None:
        self._states = [_JobState(job) for job in self.jobs]
        self._idle.set()

    async def run(self, *, task_status: trio.TaskStatus[Scheduler]) -> None:
        """Run the job loops; runs started by them live in their own nursery."""
        self._loops = trio.CancelScope()  # a fresh one when the supervisor restarts us
        if self._stopping:
            self._loops.cancel()
        async with trio.open_nursery() as runs:
            with self._loops:
                async with trio.open_nursery() as loops:
                    for state in self._states:
                        loops.start_soon(self._loop, state, runs)
                    task_status.started(self)

    async def stop(self) -> None:
        """Fire nothing more and wait for the runs in flight (the caller bounds the wait)."""
        self._stopping = True
        self._loops.cancel()
        await self.wait_idle()

    async def wait_idle(self) -> None:
        """Return when no run is in flight."""
        await self._idle.wait()

    async def _loop(self, state: _JobState, runs: trio.Nursery) -> None:
        fire = next_fire(state.job.schedule, self.wall())
        while True:
            state.next_fire = fire
            await self._sleep_until_wall(fire)
            if state.running:
                state.skipped += 1
                log.warning(
                    "job %s: the run of %s is still going at %s; this fire is skipped",
                    state.job.name,
                    state.last_fire,
                    fire.isoformat(),
                )
            else:
                state.running = True
                self._active += 1
                self._idle = trio.Event()
                runs.start_soon(self._fire, state, fire)
            fire = next_fire(state.job.schedule, max(fire, self.wall()))

    async def _sleep_until_wall(self, target: datetime) -> None:
        # wall and Trio clocks can disagree (NTP steps, suspend): wait again if woken early
        while True:
            delta = (target - self.wall()).total_seconds()
            if delta <= 0:
                return
            await trio.sleep_until(trio.current_time() + delta)

    async def _fire(self, state: _JobState, fire: datetime) -> None:
        try:
            await self._claim_and_run(state, fire)
        finally:
            state.running = False
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    async def _claim_and_run(self, state: _JobState, fire: datetime) -> None:
        name = state.job.name
        try:
            claim = await self.claims.claim(name, fire, self.wall())
        except Exception as exc:
            state.failures += 1
            state.last_result, state.last_message = "failure", f"cannot claim: {exc}"[:500]
            log.error("job %s: cannot claim the fire of %s: %s", name, fire.isoformat(), exc)
            return
        if claim.outcome == "taken":
            state.taken += 1
            log.info("job %s: the fire of %s runs on another instance", name, fire.isoformat())
            return
        if claim.outcome == "busy":
            state.skipped += 1
            blocking = claim.blocking
            since = blocking.started_at.isoformat() if blocking else "?"
            log.warning(
                "job %s: a run started at %s is still going; the fire of %s is skipped",
                name,
                since,
                fire.isoformat(),
            )
            return
        assert claim.run_id is not None
        state.runs += 1
        state.last_fire = fire
        result: Result = "interrupted"
        message = "interrupted by shutdown"
        try:
            message = await state.job.run(self.wall())
            result = "success"
            log.info("job %s (%s) done: %s", name, fire.isoformat(), message)
        except Exception as exc:
            result = "failure"
            message = f"{type(exc).__name__}: {exc}"[:2000]
            state.failures += 1
            log.error("job %s (%s) failed: %s", name, fire.isoformat(), message, exc_info=exc)
        finally:
            state.last_result, state.last_message = result, message
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + FINISH_TIMEOUT
                try:
                    await self.claims.finish(
                        claim.run_id, self.wall(), result == "success", message
                    )
                except Exception as exc:
                    log.error("job %s: cannot record the end of its run: %s", name, exc)

    def statistics(self) -> SchedulerStatistics:
        """A snapshot of every job."""
        return SchedulerStatistics(
            jobs=tuple(state.snapshot() for state in self._states), stopping=self._stopping
        )

    def __repr__(self) -> str:
        jobs = ", ".join(
            f"{s.job.name}@{s.next_fire.isoformat() if s.next_fire else '-'}"
            + (" running" if s.running else "")
            for s in self._states
        )
        return f"<Scheduler {jobs}>"


@asynccontextmanager
async def open_scheduler(
    jobs: Sequence[ScheduledJob],
    claims: FireClaims,
    *,
    stop_timeout: float,
    wall: Callable[[], datetime] | None = None,
    hard_stop: trio.Event | None = None,
) -> AsyncIterator[Scheduler]:
    """Run the scheduler for the block; on exit stop firing and give the runs in flight
    `stop_timeout` seconds (or until `hard_stop`) before cancelling them."""
    scheduler = Scheduler(jobs, claims, wall) if wall is not None else Scheduler(jobs, claims)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, "job-scheduler", scheduler.run)
        try:
            yield scheduler
        finally:
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + stop_timeout
                async with trio.open_nursery() as waiters:
                    if hard_stop is not None:
                        waiters.start_soon(_cancel_when, hard_stop, scope)
                    await scheduler.stop()
                    waiters.cancel_scope.cancel()
            if scope.cancelled_caught:
                log.warning("jobs still running after %.1fs; cancelling them", stop_timeout)
            nursery.cancel_scope.cancel()


async def _cancel_when(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
