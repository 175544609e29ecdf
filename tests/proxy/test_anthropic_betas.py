"""The beta-flag policy: per family, configurable, every drop reported."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from proxy.anthropic import BetaPolicy, split_beta_header
from proxy.anthropic.betas import UNRECOGNIZED
from proxy.config import BetaFamilyConfig, BetaFlagsConfig

DEFAULT = BetaPolicy.from_config(BetaFlagsConfig())
CLAUDE_CODE_FLAGS = [
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "advanced-tool-use-2025-11-20",
]
OPUS_5_5 = "anthropic.claude-opus-5-5"
SONNET_4_5 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"


def test_header_values_split_on_commas() -> None:
    assert split_beta_header(["a-1, b-2", " c-3 ,", ""]) == ["a-1", "b-2", "c-3"]


def test_families_by_base_model_id() -> None:
    assert DEFAULT.family_for(HAIKU_3).name == "claude-3"
    assert DEFAULT.family_for(SONNET_4_5).name == "claude-4"
    assert DEFAULT.family_for("anthropic.claude-opus-4-20250514-v1:0").name == "claude-4"
    assert DEFAULT.family_for("anthropic.claude-opus-4-6-v1").name == "claude-4"
    assert DEFAULT.family_for("anthropic.claude-opus-4-7").name == "claude-adaptive"
    assert DEFAULT.family_for(OPUS_5_5).name == "claude-adaptive"
    assert DEFAULT.family_for("anthropic.claude-brand-new-9").name == "claude-adaptive"
    assert DEFAULT.family_for(None).name == "claude-adaptive"  # e.g. an application profile


def test_claude_codes_flags_on_its_default_model() -> None:
    decision = DEFAULT.decide(CLAUDE_CODE_FLAGS, OPUS_5_5)
    assert decision.passed == ("context-management-2025-06-27", "tool-search-tool-2025-10-19")
    assert {d.flag for d in decision.dropped} == {
        "claude-code-20250219",
        "interleaved-thinking-2025-05-14",
    }


def test_claude_codes_flags_on_sonnet_4_5_keep_interleaved_thinking() -> None:
    decision = DEFAULT.decide(CLAUDE_CODE_FLAGS, SONNET_4_5)
    assert decision.passed == (
        "interleaved-thinking-2025-05-14",
        "context-management-2025-06-27",
        "tool-search-tool-2025-10-19",
    )


def test_unknown_flags_are_dropped_with_a_bounded_metric_label() -> None:
    decision = DEFAULT.decide(["made-up-2030-01-01", "computer-use-2025-01-24"], HAIKU_3)
    assert decision.passed == ("computer-use-2025-01-24",)
    [dropped] = decision.dropped
    assert dropped.label == UNRECOGNIZED
    assert "claude-3" in dropped.reason


def test_operator_allow_beats_every_drop_and_unknown_pass_mode() -> None:
    config = attrs.evolve(BetaFlagsConfig(), allow=["claude-code-20250219"], unknown="pass")
    policy = BetaPolicy.from_config(config)
    decision = policy.decide(["claude-code-20250219", "made-up-2030-01-01"], OPUS_5_5)
    assert decision.passed == ("claude-code-20250219", "made-up-2030-01-01")
    # a family's own dropped list still wins over "pass"
    assert policy.decide(["interleaved-thinking-2025-05-14"], OPUS_5_5).passed == ()


def test_custom_families_and_a_missing_default_family() -> None:
    config = BetaFlagsConfig(
        families={"mine": BetaFamilyConfig(models=["anthropic.claude-x-*"], allowed=["a-1"])},
        drop=[],
        translations={},
    )
    policy = BetaPolicy.from_config(config)
    assert policy.decide(["a-1"], "anthropic.claude-x-1").passed == ("a-1",)
    assert policy.decide(["a-1"], "anthropic.claude-y-1").passed == ()


def test_invalid_names_duplicates_and_floods() -> None:
    decision = DEFAULT.decide(
        ["context-1m-2025-08-07", "context-1m-2025-08-07", "bad flag\n", "x" * 500], OPUS_5_5
    )
    assert decision.passed == ("context-1m-2025-08-07",)
    assert all(len(d.flag) <= 128 for d in decision.dropped)
    flood = DEFAULT.decide([f"f-{i}" for i in range(200)], OPUS_5_5)
    assert len(flood.dropped) == 200 and flood.passed == ()


flags = st.lists(
    st.sampled_from([*CLAUDE_CODE_FLAGS, "context-1m-2025-08-07", "effort-2025-11-24"])
    | st.text(max_size=20),
    max_size=12,
)
models = st.sampled_from([OPUS_5_5, SONNET_4_5, HAIKU_3, None, "amazon.nova-pro-v1:0"])


@given(flags, models)
def test_every_flag_is_either_passed_or_reported(given_flags: list[str], model: str | None) -> None:
    decision = DEFAULT.decide(given_flags, model)
    assert len(set(decision.passed)) == len(decision.passed)
    dropped = {d.flag for d in decision.dropped}
    assert not dropped & set(decision.passed)
    for flag in given_flags:
        targets = DEFAULT.translations.get(flag, (flag,))
        for target in targets:
            assert target in decision.passed or target[:128] in dropped
    family = DEFAULT.family_for(model)
    for flag in decision.passed:
        assert flag in family.allowed or flag in DEFAULT.allow
        assert flag not in DEFAULT.drop
