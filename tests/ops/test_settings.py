"""Configuration: precedence, every kind of error, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.cli import EXIT_USAGE, main
from ops.settings import ConfigError, load_settings, masked

SECRET = "s" * 40


def load(tmp_path: Path, env: dict[str, str], text: str | None = None, **kw: str):  # type: ignore[no-untyped-def]
    if text is not None:
        (tmp_path / "config.yaml").write_text(text)
    return load_settings(environ=env, cwd=tmp_path, **kw)


def test_defaults_are_production_values(tmp_path: Path) -> None:
    s = load(tmp_path, {"BEDROCK_JWT__SECRET": SECRET})
    assert s.server.port == 3000
    assert s.jwt.algorithm == "HS256"
    assert s.jwt.access_token_ttl == 3600
    assert s.jwt.refresh_token_ttl == 7_776_000
    assert s.aws.region == "us-east-1"
    assert s.cache.backend == "memory"
    assert s.cache.redis_key_prefix == "bedrock_sso:"
    assert s.cache.max_entries == 10_000
    assert s.api_keys.max_keys_per_user == 10
    assert s.database.url.startswith("sqlite:///./data/")
    assert s.database.migration_on_startup is True
    assert s.metrics.port == 9090
    retention = s.jobs.usage_cleanup.summaries_retention_days
    assert (retention.hourly, retention.daily, retention.weekly, retention.monthly) == (
        7,
        90,
        365,
        1095,
    )
    sd = s.shutdown
    assert (
        sd.timeout_seconds,
        sd.readiness_delay_seconds,
        sd.streaming_timeout_seconds,
        sd.token_tracking_timeout_seconds,
        sd.background_task_timeout_seconds,
    ) == (30, 0, 30, 30, 5)


def test_precedence_default_then_file_then_env(tmp_path: Path) -> None:
    text = "server:\n  port: 4000\n  host: 127.0.0.1\njwt:\n  secret: " + SECRET + "\n"
    from_file = load(tmp_path, {}, text)
    assert (from_file.server.port, from_file.server.host) == (4000, "127.0.0.1")
    both = load(tmp_path, {"BEDROCK_SERVER__PORT": "5000"}, text)
    assert (both.server.port, both.server.host) == (5000, "127.0.0.1")
    nested = load(
        tmp_path,
        {"BEDROCK_JOBS__USAGE_CLEANUP__SUMMARIES_RETENTION_DAYS__DAILY": "91"},
        text,
    )
    assert nested.jobs.usage_cleanup.summaries_retention_days.daily == 91
    assert nested.jobs.usage_cleanup.summaries_retention_days.hourly == 7


def test_file_choice_flag_then_env_then_cwd(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("server:\n  port: 1111\n")
    (tmp_path / "env.yaml").write_text("server:\n  port: 2222\n")
    (tmp_path / "flag.yaml").write_text("server:\n  port: 3333\n")
    env = {"BEDROCK_JWT__SECRET": SECRET}
    assert load_settings(environ=env, cwd=tmp_path).server.port == 1111
    env_file = {**env, "BEDROCK_CONFIG_FILE": str(tmp_path / "env.yaml")}
    assert load_settings(environ=env_file, cwd=tmp_path).server.port == 2222
    flagged = load_settings(config_file=str(tmp_path / "flag.yaml"), environ=env_file, cwd=tmp_path)
    assert flagged.server.port == 3333


def test_lists_as_json_or_comma_separated(tmp_path: Path) -> None:
    base = {"BEDROCK_JWT__SECRET": SECRET}
    csv = load(tmp_path, {**base, "BEDROCK_ADMIN__EMAILS": "a@x.io, b@x.io"})
    assert csv.admin.emails == ["a@x.io", "b@x.io"]
    js = load(tmp_path, {**base, "BEDROCK_ADMIN__EMAILS": '["c@x.io"]'})
    assert js.admin.emails == ["c@x.io"]


def test_provider_sections_from_env(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        {
            "BEDROCK_JWT__SECRET": SECRET,
            "BEDROCK_OAUTH__PROVIDERS__GOOGLE__CLIENT_ID": "cid",
            "BEDROCK_OAUTH__PROVIDERS__GOOGLE__CLIENT_SECRET": "csecret",
        },
    )
    assert s.oauth.providers["google"].client_id == "cid"


@pytest.mark.parametrize(
    ("env", "text", "expected"),
    [
        ({}, None, "config error: jwt.secret is required (set BEDROCK_JWT__SECRET)"),
        (
            {"BEDROCK_JWT__SECRET": "short"},
            None,
            "config error: jwt.secret must be at least 32 bytes (fix BEDROCK_JWT__SECRET)",
        ),
        (
            {"BEDROCK_JWT__SECRET": SECRET, "BEDROCK_SERVER__PORT": "abc"},
            None,
            "config error: server.port expected a whole number, got 'abc'"
            " (fix BEDROCK_SERVER__PORT)",
        ),
        (
            {"BEDROCK_JWT__SECRET": SECRET, "BEDROCK_SERVER__PORT": "70000"},
            None,
            "config error: server.port must be <= 65535, got 70000 (fix BEDROCK_SERVER__PORT)",
        ),
        (
            {"BEDROCK_JWT__SECRET": SECRET, "BEDROCK_SERVER__PROT": "1"},
            None,
            "config error: unknown setting BEDROCK_SERVER__PROT"
            " (did you mean BEDROCK_SERVER__PORT?)",
        ),
        (
            {"BEDROCK_JWT__SECRET": SECRET},
            "server:\n  prot: 1\n",
            "config error: unknown key server.prot in config.yaml (did you mean server.port?)",
        ),
        (
            {"BEDROCK_JWT__SECRET": SECRET},
            "logging:\n  format: xml\n",
            "config error: logging.format expected one of text|json, got 'xml'"
            " (fix logging.format in config.yaml or set BEDROCK_LOGGING__FORMAT)",
        ),
        (
            {"BEDROCK_JWT__SECRET": SECRET},
            "jobs:\n  enabled: maybe\n",
            "config error: jobs.enabled expected true or false, got 'maybe'"
            " (fix jobs.enabled in config.yaml or set BEDROCK_JOBS__ENABLED)",
        ),
        (
            {"BEDROCK_JWT__SECRET": SECRET},
            "shutdown:\n  streaming_timeout_seconds: -1\n",
            "config error: shutdown.streaming_timeout_seconds must be >= 0.0, got -1.0"
            " (fix shutdown.streaming_timeout_seconds in config.yaml or set"
            " BEDROCK_SHUTDOWN__STREAMING_TIMEOUT_SECONDS)",
        ),
    ],
)
def test_errors_name_the_key_and_the_fix(
    tmp_path: Path, env: dict[str, str], text: str | None, expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, env, text)
    assert str(err.value) == expected


def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("BEDROCK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BEDROCK_SERVER__PORT", "not-a-port")
    monkeypatch.setenv("BEDROCK_JWT__SECRET", SECRET)
    assert main(["config", "show"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("config error: server.port")


def test_config_show_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BEDROCK_JWT__SECRET", SECRET)
    monkeypatch.setenv("BEDROCK_AWS__SECRET_ACCESS_KEY", "aws-secret-value")
    monkeypatch.setenv("BEDROCK_DATABASE__URL", "postgresql+psycopg://app:pg-password@db/x")
    monkeypatch.setenv("BEDROCK_OAUTH__PROVIDERS__GITHUB__CLIENT_ID", "id123")
    monkeypatch.setenv("BEDROCK_OAUTH__PROVIDERS__GITHUB__CLIENT_SECRET", "gh-secret-value")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    for secret in (SECRET, "aws-secret-value", "pg-password", "gh-secret-value"):
        assert secret not in out
    assert "postgresql+psycopg://app:********@db/x" in out
    assert "id123" in out


def test_masked_keeps_unset_secrets_visible_as_null(tmp_path: Path) -> None:
    data = masked(load(tmp_path, {"BEDROCK_JWT__SECRET": SECRET}))
    assert data["jwt"]["secret"] == "********"
    assert data["aws"]["secret_access_key"] is None


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_flag_before_or_after_the_subcommand(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("BEDROCK_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "elsewhere.yaml"
    config.write_text(f"jwt:\n  secret: {SECRET}\nserver:\n  port: 4321\n")
    argv = (
        ["-c", str(config), "config", "show"]
        if where == "before"
        else ["config", "show", "-c", str(config)]
    )
    assert main(argv) == 0
    assert "port: 4321" in capsys.readouterr().out
