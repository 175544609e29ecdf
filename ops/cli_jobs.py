"""`bedrock-proxy job list|summaries|cleanup`: the scheduler's jobs, run by hand or by cron.

The commands run exactly the code the in-process scheduler runs (`actors.jobs`), record their
runs in job_runs like it does, and refuse to start while a run of the same job is going on
any instance.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import trio

from ops.config import Settings
from ops.progress import TerminalProgress

T = TypeVar("T")
Command = Callable[[argparse.Namespace, Settings], int]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3
PERIODS = ("hourly", "daily", "weekly", "monthly")
CLEANUP_TARGETS = ("records", "hourly", "daily", "weekly", "monthly", "keys", "tokens", "audit")
DEFAULT_BACKFILL_DAYS = 7
MAX_DAYS = 36_500

EXIT_CODES = """\
exit codes:
  0  done (a dry run or nothing to do included)
  1  the job failed (database unreachable, unexpected error); details on stderr and in job_runs
  2  bad usage or configuration
  3  another run of the same job is still going (here or on another instance); try later"""


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number of days") from None
    if not 0 <= value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_DAYS}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `job ...` to the top-level parser."""
    formatter = argparse.RawDescriptionHelpFormatter
    job = sub.add_parser(
        "job",
        parents=[common],
        help="scheduled jobs: list them, roll up usage summaries, apply retention",
        description="Run the scheduler's jobs by hand or from an external cron"
        " (set jobs.enabled: false then). Times are UTC.",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    actions = job.add_subparsers(dest="job_command", required=True, metavar="ACTION")
    actions.add_parser(
        "list",
        parents=[common],
        help="each job, its schedule (also in words), next run, last run and result",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )

    summaries = actions.add_parser(
        "summaries",
        parents=[common],
        help="summarize usage recorded since the last run (or --backfill a range)",
        description="Roll raw usage up into hourly, daily, weekly and monthly summaries."
        " Without --backfill, every row recorded since the last run is summarized (late rows"
        " re-aggregate their periods). With --backfill, the periods of the last --days-back"
        " days are rebuilt from their sources.",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    summaries.add_argument("--period", choices=PERIODS, help="only this period (default: all)")
    summaries.add_argument(
        "--days-back",
        type=_days,
        metavar="N",
        help=f"with --backfill: rebuild the last N days (default {DEFAULT_BACKFILL_DAYS})",
    )
    summaries.add_argument("--user-id", type=_positive, metavar="U", help="with --backfill")
    summaries.add_argument("--model-id", metavar="M", help="with --backfill")
    summaries.add_argument("--backfill", action="store_true", help="rebuild a range")
    summaries.add_argument(
        "--dry-run", action="store_true", help="print what would change; change nothing"
    )

    cleanup = actions.add_parser(
        "cleanup",
        parents=[common],
        help="delete what the retention settings no longer keep",
        description="Delete raw usage older than jobs.usage_cleanup.raw_records_days (never"
        " rows not yet summarized), summaries by their period's retention, expired or revoked"
        " API keys and used/expired refresh tokens after revoked_grace_days, and audit logs"
        " older than audit_log_days. Deletes run in batches of jobs.usage_cleanup.batch_size.",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    cleanup.add_argument("--target", choices=(*CLEANUP_TARGETS, "all"), default="all")
    cleanup.add_argument(
        "--days-back",
        type=_days,
        metavar="N",
        help="keep only the last N days of the target(s), instead of the configured retention",
    )
    cleanup.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted; delete nothing"
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from storage import migrate
    from storage.database import open_database

    async def main() -> T:
        async with open_database(settings.database) as db:
            await trio.to_thread.run_sync(migrate.require_current, db.engine)
            return await work(db)

    return trio.run(main)


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


async def _recorded(
    db: Any, settings: Settings, name: str, now: datetime, work: Callable[[], Awaitable[str]]
) -> int:
    """Claim a run in job_runs (refusing while another is going), run `work`, record it."""
    from actors.jobs import DatabaseClaims

    claims = DatabaseClaims(db, timedelta(seconds=settings.jobs.max_run_seconds))
    claim = await claims.claim(name, now, now)
    if claim.outcome != "claimed" or claim.run_id is None:
        since = claim.blocking.started_at.isoformat() if claim.blocking else "just now"
        print(f"{name}: another run (started {since}) is still going; try later", file=sys.stderr)
        return EXIT_BUSY
    try:
        message = await work()
    except Exception as exc:
        with trio.CancelScope(shield=True):
            await claims.finish(claim.run_id, _now(), False, f"{type(exc).__name__}: {exc}")
        raise
    await claims.finish(claim.run_id, _now(), True, message)
    print(message.replace("; ", "\n"))
    return EXIT_OK


def job_list(_: argparse.Namespace, settings: Settings) -> int:
    """Print every job: schedule, in words, next run, last run and result."""
    from actors.jobs.overview import job_overview, run_result

    now = _now()
    overview = _run(settings, lambda db: job_overview(db, settings.jobs, now))
    if not settings.jobs.enabled:
        print("the in-process scheduler is disabled (jobs.enabled: false): run these from cron")
    for job in overview:
        print(job.name)
        print(f"  schedule:  {job.schedule}  ({job.description})")
        print(f"  next run:  {job.next_fire.isoformat() if job.next_fire else '-'}")
        last = job.last_run
        if last is None:
            print("  last run:  never")
            continue
        took = ""
        if last.finished_at is not None:
            took = f" in {(last.finished_at - last.started_at).total_seconds():.1f}s"
        print(f"  last run:  {last.fire_time.isoformat()} ({run_result(last)}{took})")
        if last.message:
            print(f"  result:    {last.message}")
    return EXIT_OK


def job_summaries(args: argparse.Namespace, settings: Settings) -> int:
    """Summarize usage (incrementally, or a backfill)."""
    from actors.jobs import SummariesOptions, run_summaries
    from actors.jobs.summaries import JOB_NAME, backfill_range

    configured = settings.jobs.usage_summaries.periods
    if args.period and args.period not in configured:
        return _usage_error(
            f"--period {args.period} is not in jobs.usage_summaries.periods ({configured})"
        )
    if not args.backfill and (
        args.days_back is not None or args.user_id is not None or args.model_id is not None
    ):
        return _usage_error("--days-back, --user-id and --model-id apply to --backfill")
    if not configured:
        print("no periods configured (jobs.usage_summaries.periods): nothing to do")
        return EXIT_OK
    now = _now()
    start = end = None
    if args.backfill:
        days = DEFAULT_BACKFILL_DAYS if args.days_back is None else args.days_back
        start, end = backfill_range(days, now)
    options = SummariesOptions(
        periods=(args.period,) if args.period else None,
        dry_run=args.dry_run,
        backfill_start=start,
        backfill_end=end,
        user_id=args.user_id,
        model_id=args.model_id,
    )
    progress = TerminalProgress(sys.stderr)

    async def work(db: Any) -> int:
        async def once() -> str:
            report = await run_summaries(db, settings.jobs, options, now=now, progress=progress)
            return report.describe()

        if args.dry_run:
            print("dry run (nothing changed):\n" + (await once()).replace("; ", "\n"))
            return EXIT_OK
        return await _recorded(db, settings, JOB_NAME, now, once)

    return _run(settings, work)


def job_cleanup(args: argparse.Namespace, settings: Settings) -> int:
    """Apply retention."""
    from actors.jobs import CleanupOptions, run_cleanup
    from actors.jobs.cleanup import JOB_NAME
    from storage.repos.cleanup import Target

    targets = cast(
        "tuple[Target, ...]", CLEANUP_TARGETS if args.target == "all" else (args.target,)
    )
    options = CleanupOptions(targets=targets, days_back=args.days_back, dry_run=args.dry_run)
    now = _now()
    progress = TerminalProgress(sys.stderr)

    async def work(db: Any) -> int:
        async def once() -> str:
            report = await run_cleanup(db, settings.jobs, options, now=now, progress=progress)
            return report.describe()

        if args.dry_run:
            print("dry run (nothing changed):\n" + (await once()).replace("; ", "\n"))
            return EXIT_OK
        return await _recorded(db, settings, JOB_NAME, now, once)

    return _run(settings, work)


COMMANDS: dict[str, Command] = {
    "job list": job_list,
    "job summaries": job_summaries,
    "job cleanup": job_cleanup,
}
