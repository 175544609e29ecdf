"""The model directory: discovery rounds, atomic catalog swaps, failures kept harmless."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
import trio

from actors.model_discovery import (
    BedrockControlPlane,
    Discovery,
    ModelDirectory,
    NotReady,
    open_model_directory,
)
from ops.emulator import EmulatorConfig, EmulatorHandle, serve_emulator
from proxy.bedrock import CredentialSource
from proxy.config import AnthropicConfig, AwsConfig, ModelDiscoveryConfig
from proxy.errors import InvalidModelMapping
from proxy.models import DiscoveredModel, DiscoveredProfile

NEW_BASE = "anthropic.claude-nova-9"
CONFIG = AnthropicConfig(
    inference_profile="us",
    discovery=ModelDiscoveryConfig(refresh_seconds=100, retry_seconds=10, timeout_seconds=5),
)
AWS = AwsConfig(region="us-east-1")
_clock = itertools.count()


def fixed_now() -> datetime:
    return datetime(2026, 11, 1, 0, 0, next(_clock) % 60, tzinfo=UTC)


def found(*bases: str) -> Discovery:
    models = tuple(
        DiscoveredModel(
            b,
            f"arn:aws:bedrock:us-east-1::foundation-model/{b}",
            None,
            "Anthropic",
            ("INFERENCE_PROFILE",),
            ("TEXT",),
            "ACTIVE",
            None,
        )
        for b in bases
    )
    profiles = tuple(
        DiscoveredProfile(
            f"us.{b}",
            f"arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.{b}",
            f"US {b}",
            "SYSTEM_DEFINED",
            "ACTIVE",
            (),
            b,
            None,
        )
        for b in bases
    )
    return Discovery(models, profiles)


class ScriptedFetcher:
    """Answers (or fails, or hangs) as told; records when it was called."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[float] = []

    async def __call__(self) -> Discovery:
        self.calls.append(trio.current_time())
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if outcome == "hang":
            await trio.sleep_forever()
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, Discovery)
        return outcome


async def test_builtin_catalog_and_operator_mappings_before_any_discovery() -> None:
    config = AnthropicConfig(
        model_mappings={"default": "claude-opus-5-5", "mine": "us.anthropic.claude-x-1"}
    )
    directory = ModelDirectory.create(config, AWS)
    assert directory.resolve("claude-opus-5-5").bedrock_id == "us.anthropic.claude-opus-5-5"
    assert directory.resolve("default").name == "claude-opus-5-5"
    assert directory.resolve("mine").bedrock_id == "us.anthropic.claude-x-1"
    assert directory.resolve(NEW_BASE.removeprefix("anthropic.")) is None
    assert directory.statistics().enabled is False
    assert await directory.refresh() is False


async def test_bad_settings_fail_at_start() -> None:
    with pytest.raises(InvalidModelMapping):
        ModelDirectory.create(AnthropicConfig(model_mappings={"x": "not a model"}), AWS)
    with pytest.raises(InvalidModelMapping):
        ModelDirectory.create(AnthropicConfig(inference_profile="mars"), AWS)


async def test_periodic_refresh_swaps_the_catalog_and_failures_keep_it(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    fetcher = ScriptedFetcher(found(NEW_BASE), RuntimeError("AccessDenied"), "hang", found())
    directory = ModelDirectory.create(CONFIG, AWS, fetcher, fixed_now)
    t0 = trio.current_time()
    await nursery.start(directory.run)
    await trio.sleep(1)
    # round 1 at t0: the new model is served under its derived name, with the us. profile
    resolved = directory.resolve("claude-nova-9")
    assert resolved is not None and resolved.bedrock_id == "us.anthropic.claude-nova-9"
    catalog = directory.catalog
    await trio.sleep(100)  # round 2 at t0+100 fails: same catalog object, counted
    assert directory.catalog is catalog
    stats = directory.statistics()
    assert (stats.refreshes, stats.failures, stats.consecutive_failures) == (2, 1, 1)
    assert stats.last_error == "RuntimeError: AccessDenied"
    await trio.sleep(10)  # round 3 at t0+110 (retry_seconds) hangs: times out after 5 s
    await trio.sleep(5)
    assert directory.statistics().last_error == "no answer within 5s"
    assert directory.catalog is catalog
    # round 4 at t0+120 (drift-free: 110 + 10) succeeds: the model is gone again
    await trio.sleep(10)
    assert directory.resolve("claude-nova-9") is None
    assert directory.resolve("claude-opus-5-5") is not None  # the table is never lost
    assert [c - t0 for c in fetcher.calls] == [0, 100, 110, 120]
    assert directory.statistics().consecutive_failures == 0
    assert "refreshes=4 failures=2" in repr(directory)


async def test_start_waits_for_the_first_round_but_not_for_long(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    config = AnthropicConfig(discovery=ModelDiscoveryConfig(timeout_seconds=30))
    directory = ModelDirectory.create(config, AWS, ScriptedFetcher("hang"), fixed_now)
    t0 = trio.current_time()
    await nursery.start(directory.run)
    assert trio.current_time() - t0 == 5  # FIRST_ROUND_SECONDS, not the 30 s round timeout
    assert directory.statistics().last_error == "no answer within 5s"
    assert directory.resolve("claude-opus-5-5") is not None  # serving the table meanwhile


async def test_no_credentials_yet_is_retried_soon_and_not_counted(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    fetcher = ScriptedFetcher(NotReady("no credentials"), NotReady("still none"), found(NEW_BASE))
    directory = ModelDirectory.create(CONFIG, AWS, fetcher, fixed_now)
    t0 = trio.current_time()
    await nursery.start(directory.run)
    await trio.sleep(5)
    assert [c - t0 for c in fetcher.calls] == [0, 1, 3]  # backing off: 1 s, then 2 s
    stats = directory.statistics()
    assert (stats.refreshes, stats.failures) == (1, 0)
    assert directory.resolve("claude-nova-9") is not None


async def test_the_control_plane_waits_for_chain_credentials() -> None:
    aws = AwsConfig(region="us-east-1")  # no explicit keys: the credential chain
    plane = BedrockControlPlane(aws, CredentialSource(aws))
    with pytest.raises(NotReady):
        await plane()


@pytest.fixture
async def emulator(nursery: trio.Nursery) -> EmulatorHandle:
    handle: EmulatorHandle = await nursery.start(serve_emulator, EmulatorConfig())
    return handle


def emulator_aws(emulator: EmulatorHandle, **extra: object) -> AwsConfig:
    return AwsConfig(
        region=emulator.config.region,
        access_key_id=emulator.config.access_key_id,
        secret_access_key=emulator.config.secret_access_key,
        **extra,  # type: ignore[arg-type]
    )


async def test_botocore_discovery_against_the_emulator_follows_next_token(
    emulator: EmulatorHandle,
) -> None:
    aws = emulator_aws(
        emulator, control_endpoint_url=emulator.url, endpoint_url="http://127.0.0.1:9"
    )
    plane = BedrockControlPlane(aws, CredentialSource(aws), page_size=5)
    assert plane.endpoint_url == emulator.url
    discovery = await plane()
    assert len(discovery.profiles) > 5  # more than one page
    assert {m.provider_name for m in discovery.models} == {"Anthropic"}
    assert "us.anthropic.claude-opus-5-5" in {p.profile_id for p in discovery.profiles}
    paths = [r.path for r in emulator.state.requests]
    assert sum(p.startswith("/inference-profiles") for p in paths) == -(
        -len(discovery.profiles) // 5
    )


async def test_open_model_directory_discovers_at_start(emulator: EmulatorHandle) -> None:
    aws = emulator_aws(emulator, endpoint_url=emulator.url)
    config = AnthropicConfig(inference_profile="auto")
    async with open_model_directory(config, aws, CredentialSource(aws)) as directory:
        with trio.fail_after(10):
            while (
                directory.statistics().refreshes == 0 or not directory.statistics().last_success_at
            ):
                await trio.sleep(0.01)
        stats = directory.statistics()
        assert stats.discovered_models > 10 and stats.failures == 0
        # `auto` in us-east-1 prefers the us. profile, which discovery confirms
        assert directory.resolve("claude-3-haiku-20240307").bedrock_id.startswith("us.")


async def test_unreachable_control_plane_is_a_counted_failure(emulator: EmulatorHandle) -> None:
    aws = emulator_aws(emulator, endpoint_url="http://127.0.0.1:9")
    directory = ModelDirectory.create(
        AnthropicConfig(), aws, BedrockControlPlane(aws, CredentialSource(aws))
    )
    before = directory.catalog
    assert await directory.refresh() is False
    assert directory.catalog is before
    assert "EndpointConnectionError" in (directory.statistics().last_error or "")
