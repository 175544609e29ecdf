"""Migrations up and down on SQLite and PostgreSQL; `init` from several processes at once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage import migrate
from storage.config import DatabaseConfig
from storage.database import create_engine
from storage.schema import metadata

TABLES = {
    "users",
    "refresh_tokens",
    "api_keys",
    "audit_logs",
    "usage_records",
    "usage_summaries",
    "model_costs",
    "job_runs",
    "job_watermarks",
}


def test_up_down_up_matches_the_schema(database_url: str) -> None:
    engine = create_engine(DatabaseConfig(url=database_url))
    assert migrate.status(engine).current is None
    migrate.upgrade(engine)
    state = migrate.status(engine)
    assert state.up_to_date and state.current == state.head
    assert set(sa.inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []

    migrate.downgrade(engine, 1)
    assert migrate.status(engine).current not in (None, state.head)
    migrate.downgrade(engine, 1000)  # more steps than migrations: down to the empty schema
    assert migrate.status(engine).current is None
    assert not TABLES & set(sa.inspect(engine).get_table_names())

    migrate.upgrade(engine)
    assert migrate.status(engine).up_to_date
    engine.dispose()


def test_the_indexes_queries_need_exist(database_url: str) -> None:
    engine = create_engine(DatabaseConfig(url=database_url))
    migrate.upgrade(engine)
    inspector = sa.inspect(engine)
    usage = {tuple(ix["column_names"]) for ix in inspector.get_indexes("usage_records")}
    assert ("user_id", "requested_at") in usage
    assert ("api_key_id", "requested_at") in usage
    summaries = {
        tuple(u["column_names"]) for u in inspector.get_unique_constraints("usage_summaries")
    }
    assert ("user_id", "model_id", "period_type", "period_start") in summaries
    costs = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("model_costs")}
    assert ("region", "model_id") in costs
    engine.dispose()


def test_require_current_refuses_an_old_schema(sqlite_url: str) -> None:
    engine = create_engine(DatabaseConfig(url=sqlite_url))
    with pytest.raises(migrate.MigrationError, match="bedrock-proxy init"):
        migrate.require_current(engine)
    migrate.upgrade(engine)
    migrate.require_current(engine)


def test_init_from_several_processes_at_once(database_url: str) -> None:
    env = {
        **os.environ,
        "BEDROCK_JWT__SECRET": "x" * 40,
        "BEDROCK_DATABASE__URL": database_url,
        "BEDROCK_LOGGING__LEVEL": "warning",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "init"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    added = sorted(int(out.split("model prices: ")[1].split()[0]) for out, _ in results)
    engine = create_engine(DatabaseConfig(url=database_url))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM model_costs")).scalar_one()
        dupes = conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT region, model_id FROM model_costs"
                " GROUP BY region, model_id HAVING count(*) > 1) d"
            )
        ).scalar_one()
    # exactly one process seeded; the others found everything in place
    assert added == [0, 0, rows] and rows > 100
    assert dupes == 0
    assert migrate.status(engine).up_to_date
    engine.dispose()


def test_head_read_from_files_matches_alembic(sqlite_url: str) -> None:
    engine = create_engine(DatabaseConfig(url=sqlite_url))
    assert migrate.head_from_files() == migrate.status(engine).head
    assert not migrate.is_current(engine)
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    assert migrate.current_revision(engine) == migrate.head_from_files()
