"""The relational schema. Alembic migrations under `storage/migrations` create exactly this."""

from __future__ import annotations

import sqlalchemy as sa

from storage.types import Money, UtcDateTime, id_type, json_type

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

USER_STATES = ("active", "disabled", "expired")
PERIOD_TYPES = ("hourly", "daily", "weekly", "monthly")

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("provider_user_id", sa.String(255), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("display_name", sa.String(255)),
    sa.Column("state", sa.String(16), nullable=False, server_default="active"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("last_login_at", UtcDateTime),
    sa.UniqueConstraint("provider", "provider_user_id"),
    sa.CheckConstraint("state IN ('active', 'disabled', 'expired')", name="state"),
    sa.Index("ix_users_email", "email"),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("user_id", id_type(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("family_id", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
    sa.Index("ix_refresh_tokens_family_id", "family_id"),
    sa.Index("ix_refresh_tokens_user_id", "user_id"),
    sa.Index("ix_refresh_tokens_expires_at", "expires_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("user_id", id_type(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("key_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("hint", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
    sa.Index("ix_api_keys_user_id", "user_id"),
)

audit_logs = sa.Table(
    "audit_logs",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("user_id", id_type(), sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("ip_address", sa.String(64)),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("metadata", json_type(), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_audit_logs_created_at", "created_at"),
    sa.Index("ix_audit_logs_user_id_created_at", "user_id", "created_at"),
    sa.Index("ix_audit_logs_event_type_created_at", "event_type", "created_at"),
)

usage_records = sa.Table(
    "usage_records",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", id_type(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("api_key_id", id_type(), sa.ForeignKey("api_keys.id", ondelete="SET NULL")),
    sa.Column("model_id", sa.String(255), nullable=False),
    sa.Column("model_name", sa.String(255)),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("input_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("output_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cache_read_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cache_write_5m_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cache_write_1h_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cost_usd", Money),
    sa.Column("price_input", Money),
    sa.Column("price_output", Money),
    sa.Column("price_cache_write_5m", Money),
    sa.Column("price_cache_write_1h", Money),
    sa.Column("price_cache_read", Money),
    sa.Column("response_time_ms", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_byte_ms", sa.Integer),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("error_type", sa.String(128)),
    sa.Column("error_message", sa.String(1024)),
    sa.Column("stop_reason", sa.String(64)),
    sa.Column("streaming", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("partial", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("client_session_id", sa.String(128)),
    sa.Index("ix_usage_records_user_id_requested_at", "user_id", "requested_at"),
    sa.Index("ix_usage_records_api_key_id_requested_at", "api_key_id", "requested_at"),
    sa.Index("ix_usage_records_requested_at", "requested_at"),
    # ids only grow (summaries keep a watermark on them); SQLite would reuse a deleted max id
    sqlite_autoincrement=True,
)

usage_summaries = sa.Table(
    "usage_summaries",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("user_id", id_type(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("model_id", sa.String(255), nullable=False),
    sa.Column("period_type", sa.String(16), nullable=False),
    sa.Column("period_start", UtcDateTime, nullable=False),
    sa.Column("period_end", UtcDateTime, nullable=False),
    sa.Column("request_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("success_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("input_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("output_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cache_read_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cache_write_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("total_cost", Money, nullable=False),
    sa.Column("unpriced_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("total_latency_ms", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("latency_histogram", json_type(), nullable=False),
    sa.Column("p95_latency_ms", sa.Integer),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("user_id", "model_id", "period_type", "period_start"),
    sa.CheckConstraint(
        "period_type IN ('hourly', 'daily', 'weekly', 'monthly')", name="period_type"
    ),
    sa.Index("ix_usage_summaries_period_type_period_start", "period_type", "period_start"),
)

model_costs = sa.Table(
    "model_costs",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("model_id", sa.String(255), nullable=False),
    sa.Column("model_name", sa.String(255)),
    sa.Column("provider", sa.String(64)),
    sa.Column("input_price", Money, nullable=False),
    sa.Column("output_price", Money, nullable=False),
    sa.Column("cache_write_5m_price", Money),
    sa.Column("cache_write_1h_price", Money),
    sa.Column("cache_read_price", Money),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("region", "model_id"),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("job_name", sa.String(64), nullable=False),
    sa.Column("fire_time", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("success", sa.Boolean),
    sa.Column("message", sa.String(2048)),
    sa.UniqueConstraint("job_name", "fire_time"),
    sa.Index("ix_job_runs_job_name_started_at", "job_name", "started_at"),
)

job_watermarks = sa.Table(
    "job_watermarks",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("watermark", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("last_id", sa.BigInteger, nullable=False, server_default="0"),
)
