"""`bedrock-proxy users|keys|token`: the operator bootstrap commands, in-process."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from ops import cli
from proxy.tokens import verify_access_token
from storage.config import DatabaseConfig
from storage.database import create_engine
from storage.schema import api_keys, audit_logs, users

SECRET = "cli-test-secret-" + "c" * 32


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(cli, "configure_logging", lambda _: None)  # keep pytest's handlers
    monkeypatch.setenv("BEDROCK_JWT__SECRET", SECRET)
    monkeypatch.setenv("BEDROCK_DATABASE__URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("BEDROCK_USAGE__JOURNAL_PATH", str(tmp_path / "journal.jsonl"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", "--skip-costs"]) == 0
    capsys.readouterr()

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def rows(tmp_path: Path, table: sa.Table) -> list[sa.Row[tuple[object, ...]]]:
    engine = create_engine(DatabaseConfig(url=f"sqlite:///{tmp_path}/cli.db"))
    with engine.connect() as conn:
        found = list(conn.execute(sa.select(table).order_by(table.c.id)))
    engine.dispose()
    return found


def test_users_create_is_idempotent(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("users", "create", "--email", "Ops@Example.com", "--name", "Ops")
    assert code == 0 and out.startswith("created: user 1 Ops@Example.com")
    code, out, _ = run("users", "create", "--email", "ops@example.com")
    assert code == 0 and out.startswith("exists: user 1")
    assert len(rows(tmp_path, users)) == 1
    code, out, _ = run("users", "list")
    assert code == 0 and "Ops@Example.com (Ops)" in out and "local" in out
    code, _, err = run("users", "create", "--email", "not-an-email")
    assert code == 2 and "not an email" in err


def test_keys_create_prints_only_the_key(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("users", "create", "--email", "svc@example.com")
    code, out, _ = run("keys", "create", "--email", "svc@example.com", "--name", "ci")
    assert code == 0
    assert re.fullmatch(r"SSOK_[A-Za-z0-9_\-]{43}\n", out)
    key = out.strip()
    stored = rows(tmp_path, api_keys)
    assert len(stored) == 1 and stored[0].key_hash != key and key not in stored[0].key_hash
    code, out, _ = run("keys", "list", "--email", "svc@example.com")
    assert code == 0 and stored[0].hint in out and key not in out and "active" in out
    code, out, _ = run("keys", "create", "--email", "svc@example.com", "--name", "t",
                       "--expires-in-days", "7")  # fmt: skip
    assert code == 0 and out.startswith("SSOK_")
    code, out, _ = run("keys", "revoke", "--id", str(stored[0].id))
    assert code == 0 and f"revoked key {stored[0].id}" in out
    assert rows(tmp_path, api_keys)[0].revoked_at is not None
    code, _, err = run("keys", "revoke", "--id", "999")
    assert code == 1 and "not found" in err
    code, out, err = run("keys", "create", "--email", "nobody@example.com", "--name", "x")
    assert code == 1 and out == "" and "no user" in err
    code, _, err = run("keys", "create", "--email", "svc@example.com", "--name", "x",
                       "--expires-in-days", "0")  # fmt: skip
    assert code == 2 and "expires_in_days" in err


def test_set_state_and_token(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("users", "create", "--email", "dev@example.com")
    code, out, _ = run("token", "--email", "dev@example.com", "--ttl", "120")
    assert code == 0 and out.count("\n") == 1
    claims = verify_access_token(out.strip(), secret=SECRET, algorithm="HS256", now=time.time())
    assert claims.user_id == 1 and claims.expires_at - claims.issued_at == 120
    assert run("token", "--email", "dev@example.com", "--ttl", "5")[0] == 2

    code, out, err = run("users", "set-state", "--email", "dev@example.com", "--state", "disabled")
    assert code == 0 and "is now disabled" in out
    assert "validation_ttl" in err  # memory cache: running servers learn it by expiry
    assert rows(tmp_path, users)[0].state == "disabled"
    code, _, err = run("token", "--email", "dev@example.com")
    assert code == 2 and "disabled" in err
    code, _, err = run("users", "set-state", "--email", "dev@example.com", "--state", "gone")
    assert code == 2 and "state must be one of" in err

    events = [(r.event_type, r.user_agent) for r in rows(tmp_path, audit_logs)]
    assert ("user_created", "bedrock-proxy-cli") in events
    assert ("token_minted", "bedrock-proxy-cli") in events
    assert ("user_state_changed", "bedrock-proxy-cli") in events
