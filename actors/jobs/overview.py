"""What `bedrock-proxy job list` and the admin pages show about each job."""

from __future__ import annotations

from datetime import datetime

import attrs
from cron_descriptor import Options, get_description

from actors.config import JobsConfig
from actors.jobs.scheduler import SchedulerStatistics, next_fire
from storage.database import Database
from storage.repos import job_runs
from storage.repos.job_runs import JobRun

JOB_SCHEDULES = ("usage_summaries", "usage_cleanup")


def describe_schedule(schedule: str) -> str:
    """The cron expression in words ("At 03:30"), in UTC."""
    options = Options()
    options.use_24hour_time_format = True
    try:
        return f"{get_description(schedule, options)} (UTC)"
    except Exception:  # cron-descriptor raises its own types for odd but valid expressions
        return schedule


@attrs.frozen
class JobOverview:
    """A job's schedule (and in words), its next fire, and its last recorded run."""

    name: str
    schedule: str
    description: str
    enabled: bool
    next_fire: datetime | None
    last_run: JobRun | None
    running_here: bool

    def json(self) -> dict[str, object]:
        """JSON-ready."""
        last = self.last_run
        return {
            "name": self.name,
            "schedule": self.schedule,
            "description": self.description,
            "enabled": self.enabled,
            "next_fire": self.next_fire.isoformat() if self.next_fire else None,
            "running_here": self.running_here,
            "last_run": None
            if last is None
            else {
                "fire_time": last.fire_time.isoformat(),
                "started_at": last.started_at.isoformat(),
                "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                "result": run_result(last),
                "message": last.message,
            },
        }


def run_result(run: JobRun) -> str:
    """ "success", "failure", or "running" (unfinished: running, or its instance died)."""
    if run.finished_at is None:
        return "running"
    return "success" if run.success else "failure"


def schedules(config: JobsConfig) -> dict[str, str]:
    """Each job's cron expression."""
    return {
        "usage_summaries": config.usage_summaries.schedule,
        "usage_cleanup": config.usage_cleanup.schedule,
    }


async def job_overview(
    db: Database,
    config: JobsConfig,
    now: datetime,
    stats: SchedulerStatistics | None = None,
) -> list[JobOverview]:
    """Every configured job with its next fire (from `now`) and last run (from job_runs)."""
    planned = schedules(config)
    last = await db.read(job_runs.last_runs, list(planned))
    running = {j.name for j in stats.jobs if j.running} if stats else set()
    return [
        JobOverview(
            name=name,
            schedule=schedule,
            description=describe_schedule(schedule),
            enabled=config.enabled,
            next_fire=next_fire(schedule, now) if config.enabled else None,
            last_run=last.get(name),
            running_here=name in running,
        )
        for name, schedule in planned.items()
    ]
