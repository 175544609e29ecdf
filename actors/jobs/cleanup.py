"""The retention job: delete what the configured retention no longer keeps, in small batches.

Shared by the scheduler and `bedrock-proxy job cleanup`. One transaction per batch; Trio gets
a checkpoint between batches, so shutdown interrupts it within one batch. Raw usage rows that
are not summarized yet (ids above the lowest summary watermark) are never deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs
import trio

from actors.config import CleanupJobConfig, JobsConfig
from actors.jobs.progress import NO_PROGRESS, Progress
from actors.jobs.summaries import enabled_periods
from storage.database import Database
from storage.repos import cleanup as repo
from storage.repos.cleanup import TARGETS, Target
from storage.repos.summaries import read_watermarks

JOB_NAME = "usage_cleanup"


def retention_days(config: CleanupJobConfig, target: Target) -> int:
    """How many days `target` is kept (for keys and tokens: the grace period)."""
    if target == "records":
        return config.raw_records_days
    if target in ("hourly", "daily", "weekly", "monthly"):
        return int(getattr(config.summaries_retention_days, target))
    if target in ("keys", "tokens"):
        return config.revoked_grace_days
    return config.audit_log_days


@attrs.frozen
class CleanupOptions:
    """Which targets, an optional override of their retention in days, and dry-run."""

    targets: tuple[Target, ...] = TARGETS
    days_back: int | None = None
    dry_run: bool = False


@attrs.frozen
class TargetReport:
    """One target: its cut-off, rows deleted (or that would be), references cleared, spared."""

    target: Target
    cutoff: datetime
    deleted: int
    unlinked: int = 0
    spared: int = 0


@attrs.define
class CleanupReport:
    """What a cleanup did (or would do, when dry)."""

    dry_run: bool
    targets: list[TargetReport] = attrs.field(factory=list)

    def describe(self) -> str:
        """One line for logs, job_runs and the CLI."""
        verb = "would delete" if self.dry_run else "deleted"
        parts = []
        for t in self.targets:
            text = f"{t.target}: {verb} {t.deleted} older than {t.cutoff.isoformat()}"
            if t.unlinked:
                text += f" ({t.unlinked} usage row(s) unlinked from them)"
            if t.spared:
                text += f" ({t.spared} kept: not summarized yet)"
            parts.append(text)
        return "; ".join(parts) or "nothing to do"

    @property
    def deleted(self) -> int:
        """Rows deleted in all."""
        return sum(t.deleted for t in self.targets)


async def run_cleanup(
    db: Database,
    config: JobsConfig,
    options: CleanupOptions,
    *,
    now: datetime,
    progress: Progress = NO_PROGRESS,
) -> CleanupReport:
    """Apply retention to each target in turn."""
    report = CleanupReport(dry_run=options.dry_run)
    cleanup = config.usage_cleanup
    for target in options.targets:
        days = (
            options.days_back if options.days_back is not None else retention_days(cleanup, target)
        )
        cutoff = now - timedelta(days=days)
        report.targets.append(
            await _one(db, config, target, cutoff, options.dry_run, cleanup.batch_size, progress)
        )
    return report


async def _one(
    db: Database,
    config: JobsConfig,
    target: Target,
    cutoff: datetime,
    dry_run: bool,
    batch: int,
    progress: Progress,
) -> TargetReport:
    upto_id: int | None = None
    spared = 0
    if target == "records":
        upto_id = await _summarized_upto(db, enabled_periods(config))
        if upto_id is not None:
            everything = await db.read(repo.count_expired, target, cutoff)
            spared = everything - await db.read(repo.count_expired, target, cutoff, upto_id)
    total = await db.read(repo.count_expired, target, cutoff, upto_id)
    unlinked = 0
    if target == "keys":
        unlinked = await db.read(repo.count_key_references, cutoff)
    if dry_run:
        return TargetReport(target, cutoff, total, unlinked, spared)
    progress.begin(f"cleanup {target}", total + unlinked)
    if target == "keys":
        unlinked = await _batches(
            db, repo.unlink_key_references_batch, (cutoff, batch), batch, progress
        )
    deleted = await _batches(
        db, repo.delete_expired_batch, (target, cutoff, batch, upto_id), batch, progress
    )
    progress.end(f"{deleted} deleted")
    return TargetReport(target, cutoff, deleted, unlinked, spared)


async def _batches(
    db: Database,
    fn: Callable[..., int],
    args: tuple[object, ...],
    batch: int,
    progress: Progress,
) -> int:
    done = 0
    while True:
        n = await db.write(fn, *args)
        done += n
        progress.advance(n)
        await trio.lowlevel.checkpoint()
        if n < batch:
            return done


async def _summarized_upto(db: Database, levels: Sequence[str]) -> int | None:
    if not levels:
        return None
    marks = await db.read(read_watermarks, levels)
    return min(marks.values())


@attrs.define(eq=False)
class CleanupJob:
    """The scheduled job: every target with its configured retention."""

    db: Database
    config: JobsConfig
    name: str = JOB_NAME

    @property
    def schedule(self) -> str:
        """Its cron expression."""
        return self.config.usage_cleanup.schedule

    async def __call__(self, now: datetime) -> str:
        """Run once; the report line."""
        report = await run_cleanup(self.db, self.config, CleanupOptions(), now=now)
        return report.describe()
