"""Settings owned by the actors: shutdown budgets, the usage accountant and scheduled jobs."""

from __future__ import annotations

from typing import Any

import attrs
from attrs.validators import ge, le
from croniter import croniter

_SECONDS_600 = [ge(0.0), le(600.0)]
_SECONDS_3600 = [ge(0.0), le(3600.0)]
_PERIODS = ("hourly", "daily", "weekly", "monthly")


def _cron(_inst: Any, attr: attrs.Attribute[str], value: str) -> None:
    # 5 fields, or 6 with seconds first (as cron-descriptor reads them); always UTC
    fields = value.split() if isinstance(value, str) else []
    if len(fields) not in (5, 6) or not croniter.is_valid(
        value, second_at_beginning=len(fields) == 6
    ):
        raise ValueError(
            f"'{attr.name}' must be a cron expression of 5 fields, or 6 with seconds first:"
            f" {value!r}"
        )


def _periods(_inst: Any, attr: attrs.Attribute[list[str]], value: list[str]) -> None:
    unknown = [p for p in value if p not in _PERIODS]
    if unknown or len(set(value)) != len(value):
        raise ValueError(f"'{attr.name}' must be distinct names among {_PERIODS}: {value!r}")


@attrs.frozen(kw_only=True)
class ShutdownConfig:
    """Budgets of the graceful drain, each in seconds (see docs/operations.md)."""

    timeout_seconds: float = attrs.field(default=30.0, validator=_SECONDS_3600)
    readiness_delay_seconds: float = attrs.field(default=0.0, validator=_SECONDS_600)
    streaming_timeout_seconds: float = attrs.field(default=30.0, validator=_SECONDS_3600)
    token_tracking_timeout_seconds: float = attrs.field(default=30.0, validator=_SECONDS_600)
    background_task_timeout_seconds: float = attrs.field(default=5.0, validator=_SECONDS_600)


@attrs.frozen(kw_only=True)
class UsageConfig:
    """How the usage accountant batches, buffers and journals usage rows."""

    batch_size: int = attrs.field(default=500, validator=[ge(1), le(100_000)])
    flush_interval_seconds: float = attrs.field(default=0.5, validator=[ge(0.01), le(60.0)])
    queue_size: int = attrs.field(default=10_000, validator=[ge(1), le(10_000_000)])
    journal_path: str = "./data/usage-journal.jsonl"
    max_journal_bytes: int = attrs.field(default=1 << 30, validator=[ge(4096)])
    retry_max_seconds: float = attrs.field(default=30.0, validator=[ge(0.05), le(3600.0)])
    # model prices are reloaded this often, and at once when an admin changes one
    price_refresh_seconds: float = attrs.field(default=300.0, validator=[ge(1.0), le(86400.0)])


@attrs.frozen(kw_only=True)
class SummariesJobConfig:
    """When usage summaries are rolled up, and for which periods."""

    schedule: str = attrs.field(default="0 * * * *", validator=_cron)
    periods: list[str] = attrs.field(
        factory=lambda: ["hourly", "daily", "weekly", "monthly"], validator=_periods
    )
    chunk_rows: int = attrs.field(default=20_000, validator=[ge(1), le(1_000_000)])


@attrs.frozen(kw_only=True)
class RetentionDays:
    """How long each summary period is kept, in days."""

    hourly: int = attrs.field(default=7, validator=ge(1))
    daily: int = attrs.field(default=90, validator=ge(1))
    weekly: int = attrs.field(default=365, validator=ge(1))
    monthly: int = attrs.field(default=1095, validator=ge(1))


@attrs.frozen(kw_only=True)
class CleanupJobConfig:
    """Retention of raw usage rows, summaries, dead keys, tokens and audit logs."""

    schedule: str = attrs.field(default="30 3 * * *", validator=_cron)
    raw_records_days: int = attrs.field(default=30, validator=ge(1))
    summaries_retention_days: RetentionDays = attrs.field(factory=RetentionDays)
    revoked_grace_days: int = attrs.field(default=30, validator=ge(0))
    audit_log_days: int = attrs.field(default=365, validator=ge(1))
    batch_size: int = attrs.field(default=5000, validator=[ge(1), le(1_000_000)])


@attrs.frozen(kw_only=True)
class JobsConfig:
    """The in-process scheduler; disable it when an external cron runs `bedrock-proxy job`."""

    enabled: bool = True
    # a run unfinished after this long is presumed dead (its instance crashed): no longer blocks
    max_run_seconds: float = attrs.field(default=21_600.0, validator=[ge(60.0), le(604_800.0)])
    usage_summaries: SummariesJobConfig = attrs.field(factory=SummariesJobConfig)
    usage_cleanup: CleanupJobConfig = attrs.field(factory=CleanupJobConfig)
