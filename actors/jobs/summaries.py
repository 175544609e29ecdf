"""The usage-summaries job: incremental roll-ups past the watermark, and backfills.

Shared by the scheduler and `bedrock-proxy job summaries`. Each chunk of raw rows is one
transaction (see storage/repos/summaries.py for the invariant); between chunks the job
yields to Trio, so a shutdown stops it within one chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs
import trio

from actors.config import JobsConfig
from actors.jobs.progress import NO_PROGRESS, Progress
from proxy.metering import PERIODS, Period, period_floor, period_starts
from storage.database import Database
from storage.repos import summaries as repo
from storage.repos import summary_rollup as rollup
from storage.repos.summaries import Coverage, LevelReport

JOB_NAME = "usage_summaries"
BACKFILL_GROUP = 24  # periods rebuilt per transaction (a day of hours)


def coverage_for(config: JobsConfig, now: datetime) -> Coverage:
    """What the retention settings promise is still stored, as of `now`."""
    cleanup = config.usage_cleanup
    retention = attrs.asdict(cleanup.summaries_retention_days)
    return Coverage(
        now=now,
        raw_days=cleanup.raw_records_days,
        retention_days=retention,
        enabled=frozenset(config.usage_summaries.periods),
    )


def enabled_periods(config: JobsConfig) -> tuple[Period, ...]:
    """The configured periods, in roll-up order."""
    return tuple(p for p in PERIODS if p in config.usage_summaries.periods)


@attrs.frozen
class SummariesOptions:
    """What one run does: which periods, and optionally a backfill of [start, end)."""

    periods: tuple[Period, ...] | None = None  # None: every configured period
    dry_run: bool = False
    backfill_start: datetime | None = None
    backfill_end: datetime | None = None
    user_id: int | None = None
    model_id: str | None = None


@attrs.define
class SummariesReport:
    """What a run did (or would do, when dry)."""

    dry_run: bool
    horizon: int = 0
    rows: int = 0
    levels: dict[str, LevelReport] = attrs.field(factory=dict)
    backfilled: dict[str, LevelReport] = attrs.field(factory=dict)

    def describe(self) -> str:
        """One line for logs, job_runs and the CLI."""
        verb = "would change" if self.dry_run else "changed"
        parts = [f"{self.rows} new usage row(s) up to id {self.horizon}"]
        for title, reports in (("", self.levels), ("backfill ", self.backfilled)):
            for level, r in reports.items():
                text = (
                    f"{title}{level}: {verb} {r.changed} (+{r.inserted} ~{r.updated}"
                    f" -{r.deleted}), {r.unchanged} unchanged"
                )
                if r.skipped:
                    text += f", {r.skipped} skipped (past retention)"
                parts.append(text)
        return "; ".join(parts)

    @property
    def changed(self) -> int:
        """Summary rows changed in all."""
        reports = [*self.levels.values(), *self.backfilled.values()]
        return sum(r.changed for r in reports)


async def run_summaries(
    db: Database,
    config: JobsConfig,
    options: SummariesOptions,
    *,
    now: datetime,
    progress: Progress = NO_PROGRESS,
) -> SummariesReport:
    """Summarize every usage row recorded since the last run, then backfill if asked."""
    levels = options.periods or enabled_periods(config)
    coverage = coverage_for(config, now)
    report = SummariesReport(dry_run=options.dry_run)
    await _incremental(db, config, levels, coverage, now, options.dry_run, report, progress)
    if options.backfill_start is not None:
        end = options.backfill_end or now
        await _backfill(
            db, levels, coverage, options, options.backfill_start, end, now, report, progress
        )
    return report


async def _incremental(
    db: Database,
    config: JobsConfig,
    levels: Sequence[Period],
    coverage: Coverage,
    now: datetime,
    dry_run: bool,
    report: SummariesReport,
    progress: Progress,
) -> None:
    horizon = await db.read(repo.safe_horizon)
    marks = await db.read(repo.read_watermarks, levels)
    report.horizon = horizon
    low = min(marks.values(), default=horizon)
    progress.begin("summaries", await db.read(repo.pending_rows, low, horizon))
    virtual: dict[str, int] | None = None
    run = db.read if dry_run else db.write
    while True:
        chunk = await run(
            rollup.summarize_chunk,
            levels=levels,
            horizon=horizon,
            chunk_rows=config.usage_summaries.chunk_rows,
            coverage=coverage,
            now=now,
            dry_run=dry_run,
            virtual=virtual,
        )
        if chunk is None:
            break
        virtual = chunk.marks
        report.rows += chunk.rows
        for level, level_report in chunk.reports.items():
            report.levels.setdefault(level, LevelReport()).add(level_report)
        progress.advance(chunk.rows)
        await trio.lowlevel.checkpoint()
    progress.end(f"{report.rows} row(s) summarized")


async def _backfill(
    db: Database,
    levels: Sequence[Period],
    coverage: Coverage,
    options: SummariesOptions,
    start: datetime,
    end: datetime,
    now: datetime,
    report: SummariesReport,
    progress: Progress,
) -> None:
    plan = {level: period_starts(start, end, level) for level in levels}
    progress.begin("backfill", sum(len(starts) for starts in plan.values()))
    run = db.read if options.dry_run else db.write
    for level, starts in plan.items():
        for group in _groups(starts, BACKFILL_GROUP):
            level_report = await run(
                rollup.backfill_buckets,
                level=level,
                starts=group,
                levels=levels,
                coverage=coverage,
                user_id=options.user_id,
                model_id=options.model_id,
                now=now,
                dry_run=options.dry_run,
            )
            report.backfilled.setdefault(level, LevelReport()).add(level_report)
            progress.advance(len(group))
            await trio.lowlevel.checkpoint()
    changed = sum(r.changed for r in report.backfilled.values())
    periods = sum(len(starts) for starts in plan.values())
    progress.end(f"{periods} period(s) rebuilt, {changed} row(s) changed")


def _groups(items: Sequence[datetime], size: int) -> list[Sequence[datetime]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def backfill_range(days_back: int, now: datetime) -> tuple[datetime, datetime]:
    """[start of the day `days_back` days ago, now)."""
    return period_floor(now - timedelta(days=days_back), "daily"), now


@attrs.define(eq=False)
class SummariesJob:
    """The scheduled job: an incremental run with every configured period."""

    db: Database
    config: JobsConfig
    name: str = JOB_NAME

    @property
    def schedule(self) -> str:
        """Its cron expression."""
        return self.config.usage_summaries.schedule

    async def __call__(self, now: datetime) -> str:
        """Run once; the report line."""
        report = await run_summaries(self.db, self.config, SummariesOptions(), now=now)
        return report.describe()
