"""`bedrock-proxy job list|summaries|cleanup`: output, dry runs, exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ops.cli import main
from storage import migrate
from storage.config import DatabaseConfig
from storage.database import create_engine
from storage.schema import job_runs, usage_records, usage_summaries
from tests.factories import insert_user
from tests.usage_rows import insert_rows, usage_row


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BEDROCK_JWT__SECRET", "x" * 40)
    monkeypatch.setenv("BEDROCK_DATABASE__URL", url)
    monkeypatch.setenv("BEDROCK_LOGGING__LEVEL", "warning")
    engine = create_engine(DatabaseConfig(url=url))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def seed(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        user = insert_user(conn)
        rows = [usage_row(user, now - timedelta(hours=h)) for h in range(5)]
        rows += [usage_row(user, now - timedelta(days=40 + d)) for d in range(3)]
        insert_rows(conn, rows)


def test_list_shows_schedules_in_words_and_runs(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["job", "list"]) == 0
    out = capsys.readouterr().out
    assert "usage_summaries" in out and "0 * * * *" in out and "Every hour (UTC)" in out
    assert "usage_cleanup" in out and "At 03:30 (UTC)" in out
    assert "last run:  never" in out
    assert main(["job", "summaries"]) == 0
    capsys.readouterr()
    assert main(["job", "list"]) == 0
    assert "(success in" in capsys.readouterr().out


def test_summaries_dry_run_then_for_real(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine)
    assert main(["job", "summaries", "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "dry run (nothing changed)" in captured.out and "would change" in captured.out
    assert "summaries: started (8 to do)" in captured.err  # plain progress lines off a TTY
    assert count(engine, usage_summaries) == 0 and count(engine, job_runs) == 0

    assert main(["job", "summaries"]) == 0
    assert "8 new usage row(s)" in capsys.readouterr().out
    assert count(engine, usage_summaries) > 0
    with engine.connect() as conn:
        run = conn.execute(sa.select(job_runs)).one()
    assert run.success is True and run.job_name == "usage_summaries"

    backfill = ["job", "summaries", "--backfill", "--days-back", "2", "--period", "hourly"]
    assert main(backfill) == 0
    assert "backfill hourly: changed 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["job", "summaries", "--days-back", "3"], "apply to --backfill"),
        (["job", "summaries", "--user-id", "3"], "apply to --backfill"),
    ],
)
def test_usage_errors_exit_2(
    engine: Engine, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_argparse_refuses_unknown_choices(engine: Engine) -> None:
    for argv in (
        ["job", "summaries", "--period", "yearly"],
        ["job", "cleanup", "--target", "everything"],
        ["job", "cleanup", "--days-back", "-1"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2


def test_cleanup_dry_run_changes_nothing_and_a_run_deletes(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine)
    assert main(["job", "summaries"]) == 0
    assert main(["job", "cleanup", "--target", "records", "--dry-run"]) == 0
    assert "records: would delete 3 older than" in capsys.readouterr().out
    assert count(engine, usage_records) == 8
    assert main(["job", "cleanup", "--target", "records"]) == 0
    assert "records: deleted 3" in capsys.readouterr().out
    assert count(engine, usage_records) == 5
    assert main(["job", "cleanup", "--target", "records", "--days-back", "0"]) == 0
    assert count(engine, usage_records) == 0


def test_a_run_in_progress_elsewhere_exits_3(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(job_runs).values(
                job_name="usage_cleanup", fire_time=now - timedelta(minutes=1), started_at=now
            )
        )
    assert main(["job", "cleanup"]) == 3
    assert "still going" in capsys.readouterr().err
    assert main(["job", "cleanup", "--dry-run"]) == 0  # a dry run claims nothing
