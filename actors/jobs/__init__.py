"""Scheduled jobs: the scheduler actor, usage summaries and retention cleanup."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import trio

from actors.config import JobsConfig
from actors.jobs.cleanup import CleanupJob, CleanupOptions, CleanupReport, run_cleanup
from actors.jobs.progress import NO_PROGRESS, NoProgress, Progress
from actors.jobs.scheduler import (
    DatabaseClaims,
    FireClaims,
    JobStatistics,
    MemoryClaims,
    ScheduledJob,
    Scheduler,
    SchedulerStatistics,
    next_fire,
    open_scheduler,
)
from actors.jobs.summaries import (
    SummariesJob,
    SummariesOptions,
    SummariesReport,
    coverage_for,
    run_summaries,
)
from storage.database import Database

__all__ = [
    "NO_PROGRESS",
    "CleanupJob",
    "CleanupOptions",
    "CleanupReport",
    "DatabaseClaims",
    "FireClaims",
    "JobStatistics",
    "MemoryClaims",
    "NoProgress",
    "Progress",
    "ScheduledJob",
    "Scheduler",
    "SchedulerStatistics",
    "SummariesJob",
    "SummariesOptions",
    "SummariesReport",
    "build_jobs",
    "coverage_for",
    "next_fire",
    "open_jobs",
    "open_scheduler",
    "run_cleanup",
    "run_summaries",
]


def build_jobs(db: Database, config: JobsConfig) -> list[ScheduledJob]:
    """The jobs the configuration schedules (the scheduler and `job list` agree on them)."""
    summaries, cleanup = SummariesJob(db, config), CleanupJob(db, config)
    return [
        ScheduledJob(summaries.name, summaries.schedule, summaries),
        ScheduledJob(cleanup.name, cleanup.schedule, cleanup),
    ]


@asynccontextmanager
async def open_jobs(
    db: Database,
    config: JobsConfig,
    *,
    stop_timeout: float,
    wall: Callable[[], datetime] | None = None,
    hard_stop: trio.Event | None = None,
) -> AsyncIterator[Scheduler | None]:
    """The scheduler with the configured jobs when `jobs.enabled`, else nothing (None)."""
    if not config.enabled:
        yield None
        return
    claims = DatabaseClaims(db, timedelta(seconds=config.max_run_seconds))
    async with open_scheduler(
        build_jobs(db, config), claims, stop_timeout=stop_timeout, wall=wall, hard_stop=hard_stop
    ) as scheduler:
        yield scheduler
