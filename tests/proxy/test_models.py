from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.errors import InvalidDiscoveryData, InvalidModelMapping
from proxy.model_ids import GEO_PREFIXES, parse_model_id
from proxy.models import (
    ModelCatalog,
    ProfilePolicy,
    alias_for,
    anthropic_name_for,
    display_name_for,
    load_builtin_models,
    parse_foundation_models,
    parse_inference_profiles,
    prefix_for_region,
)

# /work/shared/data/claude_models_2026-11.csv, verbatim.
CLAUDE_MODELS_2026_11 = """\
anthropic_name,bedrock_id_us_profile
claude-opus-5-5,us.anthropic.claude-opus-5-5
claude-sonnet-5-5,us.anthropic.claude-sonnet-5-5
claude-haiku-5-5,us.anthropic.claude-haiku-5-5
claude-opus-5,us.anthropic.claude-opus-5
claude-sonnet-5,us.anthropic.claude-sonnet-5
claude-mythos-5,us.anthropic.claude-mythos-5
claude-fable-5,us.anthropic.claude-fable-5
claude-fable-5-1,us.anthropic.claude-fable-5-1
claude-fable-5-2,us.anthropic.claude-fable-5-2
claude-opus-4-8,us.anthropic.claude-opus-4-8
claude-opus-4-7,us.anthropic.claude-opus-4-7
claude-opus-4-6,us.anthropic.claude-opus-4-6-v1
claude-sonnet-4-6,us.anthropic.claude-sonnet-4-6
claude-opus-4-5-20251101,us.anthropic.claude-opus-4-5-20251101-v1:0
claude-sonnet-4-5-20250929,us.anthropic.claude-sonnet-4-5-20250929-v1:0
claude-haiku-4-5-20251001,us.anthropic.claude-haiku-4-5-20251001-v1:0
claude-opus-4-1-20250805,us.anthropic.claude-opus-4-1-20250805-v1:0
claude-opus-4-20250514,us.anthropic.claude-opus-4-20250514-v1:0
claude-sonnet-4-20250514,us.anthropic.claude-sonnet-4-20250514-v1:0
claude-3-7-sonnet-20250219,us.anthropic.claude-3-7-sonnet-20250219-v1:0
claude-3-5-sonnet-20241022,us.anthropic.claude-3-5-sonnet-20241022-v2:0
claude-3-5-haiku-20241022,us.anthropic.claude-3-5-haiku-20241022-v1:0
"""
REFERENCE = [
    (row["anthropic_name"], row["bedrock_id_us_profile"])
    for row in csv.DictReader(io.StringIO(CLAUDE_MODELS_2026_11))
]
US = ProfilePolicy.from_setting("us")
ACCOUNT = "123456789012"
ARN_PREFIX = f"arn:aws:bedrock:us-east-1:{ACCOUNT}"


@pytest.fixture(scope="module")
def catalog() -> ModelCatalog:
    return ModelCatalog.build(policy=US)


@pytest.mark.parametrize(("name", "us_id"), REFERENCE)
def test_every_reference_name_resolves_to_its_us_profile(
    catalog: ModelCatalog, name: str, us_id: str
) -> None:
    resolved = catalog.resolve(name)
    assert resolved is not None
    assert resolved.bedrock_id == us_id
    assert resolved.base_model_id == us_id.removeprefix("us.")
    assert resolved.source == "builtin"


@pytest.mark.parametrize(
    ("alias", "target"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
        ("claude-opus-4-5", "claude-opus-4-5-20251101"),
        ("claude-haiku-4-5", "claude-haiku-4-5-20251001"),
        ("claude-opus-4-1", "claude-opus-4-1-20250805"),
        ("claude-opus-4", "claude-opus-4-20250514"),
        ("claude-opus-4-0", "claude-opus-4-20250514"),
        ("claude-sonnet-4", "claude-sonnet-4-20250514"),
        ("claude-sonnet-4-0", "claude-sonnet-4-20250514"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022"),
        ("claude-3-opus-latest", "claude-3-opus-20240229"),
    ],
)
def test_aliases(catalog: ModelCatalog, alias: str, target: str) -> None:
    via_alias, direct = catalog.resolve(alias), catalog.resolve(target)
    assert via_alias is not None
    assert via_alias == direct
    assert via_alias.name == target


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("claude-3-5-sonnet-20240620", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("claude-3-haiku-20240307", "anthropic.claude-3-haiku-20240307-v1:0"),
        ("claude-3-opus-20240229", "anthropic.claude-3-opus-20240229-v1:0"),
    ],
)
def test_older_models(catalog: ModelCatalog, name: str, base: str) -> None:
    resolved = catalog.resolve(name)
    assert resolved is not None
    assert resolved.base_model_id == base


def test_unknown_and_invalid_names(catalog: ModelCatalog) -> None:
    for name in ["claude-nonexistent-9", "", "gpt-4o", "claude-opus-5-5 ", "../etc", "a" * 5000]:
        assert catalog.resolve(name) is None


@pytest.mark.parametrize(
    "raw",
    [
        "anthropic.claude-opus-5-5",
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-opus-5-5",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.anthropic.claude-opus-5-5",
    ],
)
def test_bedrock_ids_resolve_to_themselves(catalog: ModelCatalog, raw: str) -> None:
    resolved = catalog.resolve(raw)
    assert resolved is not None
    assert (resolved.bedrock_id, resolved.name, resolved.source) == (raw, raw, "direct")
    assert resolved.base_model_id == parse_model_id(raw).base_model_id


def test_direct_id_borrows_display_name_of_known_model(catalog: ModelCatalog) -> None:
    resolved = catalog.resolve("eu.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert resolved is not None
    assert resolved.display_name == "Claude Sonnet 4.5"


# --- profile policy ---


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("us-east-1", "us"),
        ("us-west-2", "us"),
        ("us-gov-west-1", "us-gov"),
        ("eu-central-1", "eu"),
        ("eu-west-3", "eu"),
        ("ap-northeast-1", "apac"),
        ("ap-southeast-2", "apac"),
        ("ca-central-1", None),
        ("sa-east-1", None),
        ("me-central-1", None),
        ("", None),
    ],
)
def test_auto_prefix_from_region(region: str, prefix: str | None) -> None:
    assert prefix_for_region(region) == prefix
    assert ProfilePolicy.from_setting("auto", region=region).prefix == prefix


def test_region_prefix_overrides() -> None:
    overrides = {"ap-northeast-1": "jp", "ap-southeast-2": "au", "ca-": "global", "eu-": "none"}
    assert prefix_for_region("ap-northeast-1", overrides) == "jp"
    assert prefix_for_region("ap-southeast-2", overrides) == "au"
    assert prefix_for_region("ap-south-1", overrides) == "apac"
    assert prefix_for_region("ca-central-1", overrides) == "global"
    assert prefix_for_region("eu-west-1", overrides) is None
    with pytest.raises(InvalidModelMapping):
        prefix_for_region("us-east-1", {"us-": "mars"})


def test_policy_settings() -> None:
    assert ProfilePolicy.from_setting("none") == ProfilePolicy("none", None)
    for geo in GEO_PREFIXES:
        assert ProfilePolicy.from_setting(geo) == ProfilePolicy("fixed", geo)
    with pytest.raises(InvalidModelMapping):
        ProfilePolicy.from_setting("europe")


def test_policy_none_and_auto_without_geography() -> None:
    for policy in (ProfilePolicy.from_setting("none"), ProfilePolicy.from_setting("auto")):
        resolved = ModelCatalog.build(policy=policy).resolve("claude-opus-5-5")
        assert resolved is not None
        assert resolved.bedrock_id == "anthropic.claude-opus-5-5"
    eu = ModelCatalog.build(policy=ProfilePolicy.from_setting("auto", region="eu-west-1"))
    resolved = eu.resolve("claude-sonnet-4-5")
    assert resolved is not None
    assert resolved.bedrock_id == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


# --- operator mappings ---


def test_operator_mapping_overrides_and_extends() -> None:
    app_profile = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/team1"
    catalog = ModelCatalog.build(
        policy=US,
        operator_mappings={
            "claude-opus-5-5": app_profile,
            "claude-internal-1": "anthropic.claude-internal-1-v1:0",
            "default": "claude-sonnet-4-5",
            "claude-sonnet-4-5": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        },
    )
    opus = catalog.resolve("claude-opus-5-5")
    assert opus is not None
    assert (opus.bedrock_id, opus.source, opus.display_name) == (
        app_profile,
        "operator",
        "Claude Opus 5.5",
    )
    assert opus.base_model_id is None
    internal = catalog.resolve("claude-internal-1")
    assert internal is not None
    assert internal.bedrock_id == "us.anthropic.claude-internal-1-v1:0"  # base ids get the policy
    assert internal.display_name == "Claude Internal 1"
    sonnet = catalog.resolve("claude-sonnet-4-5")
    assert sonnet is not None
    assert sonnet.bedrock_id == "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    dated = catalog.resolve("claude-sonnet-4-5-20250929")
    assert dated is not None
    assert dated.bedrock_id.startswith("us.")
    default = catalog.resolve("default")
    assert default is not None
    assert default.name == "claude-sonnet-4-5-20250929"
    names = [m.name for m in catalog.list_models()]
    assert names[:2] == ["claude-internal-1", "claude-sonnet-4-5"]
    assert "default" not in names


def test_operator_alias_follows_a_later_remapping() -> None:
    catalog = ModelCatalog.build(
        policy=US,
        operator_mappings={"default": "claude-opus-5-5", "claude-opus-5-5": "claude-opus-4-8"},
    )
    resolved = catalog.resolve("default")
    assert resolved is not None
    assert resolved.name == "claude-opus-4-8"


@pytest.mark.parametrize(
    "mappings",
    [
        {"claude-x": "anthropic.claude/../x"},
        {"claude-x": "not a model"},
        {"claude-x": "claude-unknown-name"},
        {"bad name": "anthropic.claude-opus-5-5"},
        {"": "anthropic.claude-opus-5-5"},
    ],
)
def test_invalid_operator_mappings(mappings: dict[str, str]) -> None:
    with pytest.raises(InvalidModelMapping):
        ModelCatalog.build(operator_mappings=mappings)


# --- discovery ---


def _fm(model_id: str, types: list[str], start: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}",
        "modelId": model_id,
        "modelName": "Claude",
        "providerName": "Anthropic",
        "inputModalities": ["TEXT", "IMAGE"],
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": True,
        "customizationsSupported": [],
        "inferenceTypesSupported": types,
        "modelLifecycle": {"status": "ACTIVE"},
    }
    if start is not None:
        item["modelLifecycle"]["startOfLifeTime"] = start
    return item


def _profile(profile_id: str, base: str, created: str = "2026-10-01T00:00:00Z") -> dict[str, Any]:
    return {
        "inferenceProfileName": f"US {base}",
        "description": "Routes requests",
        "createdAt": created,
        "updatedAt": created,
        "inferenceProfileArn": f"{ARN_PREFIX}:inference-profile/{profile_id}",
        "models": [
            {"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{base}"}
            for r in ("us-east-1", "us-west-2")
        ],
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


FOUNDATION = {
    "modelSummaries": [
        _fm("anthropic.claude-fable-6", ["INFERENCE_PROFILE"], "2026-11-20T00:00:00Z"),
        _fm("anthropic.claude-sonnet-6-20261101-v1:0", ["INFERENCE_PROFILE"]),
        _fm("anthropic.claude-opus-5-5", ["INFERENCE_PROFILE"], "2026-09-01T12:00:00Z"),
        _fm("anthropic.claude-3-haiku-20240307-v1:0", ["ON_DEMAND"]),
        _fm("anthropic.claude-3-sonnet-20240229-v1:0:200k", ["PROVISIONED"]),
        _fm("anthropic.claude-instant-v1", ["ON_DEMAND"]),
        _fm("amazon.nova-pro-v1:0", ["ON_DEMAND"]),
        {"modelId": "Not A Model", "modelArn": "x"},
        "garbage",
    ]
}
PROFILES = {
    "inferenceProfileSummaries": [
        _profile("us.anthropic.claude-fable-6", "anthropic.claude-fable-6"),
        _profile("global.anthropic.claude-fable-6", "anthropic.claude-fable-6"),
        _profile(
            "eu.anthropic.claude-sonnet-6-20261101-v1:0", "anthropic.claude-sonnet-6-20261101-v1:0"
        ),
        _profile(
            "global.anthropic.claude-sonnet-6-20261101-v1:0",
            "anthropic.claude-sonnet-6-20261101-v1:0",
        ),
        _profile("global.anthropic.claude-opus-5-5", "anthropic.claude-opus-5-5"),
        _profile(
            "us.anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"
        ),
        {
            "inferenceProfileName": "team",
            "inferenceProfileArn": f"{ARN_PREFIX}:application-inference-profile/k2j3h4",
            "models": [
                {
                    "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/"
                    "anthropic.claude-opus-5-5"
                }
            ],
            "inferenceProfileId": "k2j3h4",
            "status": "ACTIVE",
            "type": "APPLICATION",
        },
    ],
    "nextToken": "abc",
}


def _discovered(policy: ProfilePolicy, **kwargs: Any) -> ModelCatalog:
    return ModelCatalog.build(
        policy=policy,
        discovered_models=parse_foundation_models(FOUNDATION),
        discovered_profiles=parse_inference_profiles(PROFILES),
        **kwargs,
    )


def test_parse_foundation_models() -> None:
    models = parse_foundation_models(FOUNDATION)
    assert [m.model_id for m in models][:3] == [
        "anthropic.claude-fable-6",
        "anthropic.claude-sonnet-6-20261101-v1:0",
        "anthropic.claude-opus-5-5",
    ]
    assert len(models) == 7  # the invalid id and the non-object are skipped
    fable = models[0]
    assert fable.released_at == datetime(2026, 11, 20, tzinfo=UTC)
    assert fable.inference_types == ("INFERENCE_PROFILE",)
    assert not fable.supports_on_demand
    assert models[3].supports_on_demand


def test_parse_inference_profiles() -> None:
    profiles = parse_inference_profiles(PROFILES)
    assert profiles[0].base_model_id == "anthropic.claude-fable-6"
    assert profiles[0].created_at == datetime(2026, 10, 1, tzinfo=UTC)
    assert len(profiles[0].model_arns) == 2
    app = profiles[-1]
    assert (app.profile_type, app.base_model_id) == ("APPLICATION", "anthropic.claude-opus-5-5")


def test_discovery_shape_errors() -> None:
    with pytest.raises(InvalidDiscoveryData):
        parse_foundation_models({"modelSummaries": "nope"})
    with pytest.raises(InvalidDiscoveryData):
        parse_inference_profiles({"inferenceProfileSummaries": 3})
    assert parse_foundation_models({}) == []


def test_discovery_timestamps_from_botocore_and_epoch() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for value in (when, when.replace(tzinfo=None), when.timestamp(), "2026-01-02T03:04:05Z"):
        doc = {"modelSummaries": [_fm("anthropic.claude-x-9", [], None)]}
        doc["modelSummaries"][0]["modelLifecycle"]["startOfLifeTime"] = value
        assert parse_foundation_models(doc)[0].released_at == when
    doc["modelSummaries"][0]["modelLifecycle"]["startOfLifeTime"] = "not a date"
    assert parse_foundation_models(doc)[0].released_at is None


def test_discovered_new_model_works_without_a_release() -> None:
    catalog = _discovered(US)
    fable = catalog.resolve("claude-fable-6")
    assert fable is not None
    assert (fable.bedrock_id, fable.source, fable.display_name) == (
        "us.anthropic.claude-fable-6",
        "discovered",
        "Claude Fable 6",
    )
    assert fable.created_at == datetime(2026, 11, 20, tzinfo=UTC)
    sonnet = catalog.resolve("claude-sonnet-6")  # alias derived from the dated name
    assert sonnet is not None
    assert sonnet.name == "claude-sonnet-6-20261101"
    assert sonnet.created_at == datetime(2026, 11, 1, tzinfo=UTC)
    assert catalog.resolve("claude-instant") is None
    assert catalog.resolve("claude") is None


def test_discovery_only_chooses_existing_profiles() -> None:
    us = _discovered(US)
    # Opus 5.5 has only a global. profile and no on-demand: auto may take it ...
    auto_us = _discovered(ProfilePolicy.from_setting("auto", region="us-east-1"))
    assert _bedrock(auto_us, "claude-opus-5-5") == "global.anthropic.claude-opus-5-5"
    assert (
        _bedrock(auto_us, "claude-3-haiku-20240307") == "us.anthropic.claude-3-haiku-20240307-v1:0"
    )
    # ... but a pinned geography never falls back to global.
    assert _bedrock(us, "claude-opus-5-5") == "us.anthropic.claude-opus-5-5"
    assert _bedrock(_discovered(ProfilePolicy.from_setting("global")), "claude-opus-5-5") == (
        "global.anthropic.claude-opus-5-5"
    )
    # eu: sonnet-6 has an eu. profile; haiku 3 has none but runs on demand.
    eu = _discovered(ProfilePolicy.from_setting("eu"))
    assert _bedrock(eu, "claude-sonnet-6") == "eu.anthropic.claude-sonnet-6-20261101-v1:0"
    assert _bedrock(eu, "claude-3-haiku-20240307") == "anthropic.claude-3-haiku-20240307-v1:0"
    # auto in a region without a known geography: geography profile before global.
    ca = _discovered(ProfilePolicy.from_setting("auto", region="ca-central-1"))
    assert _bedrock(ca, "claude-fable-6") == "us.anthropic.claude-fable-6"
    assert _bedrock(ca, "claude-sonnet-6") == "eu.anthropic.claude-sonnet-6-20261101-v1:0"
    # models discovery does not know keep the policy's choice
    assert _bedrock(eu, "claude-sonnet-5-5") == "eu.anthropic.claude-sonnet-5-5"


def _bedrock(catalog: ModelCatalog, name: str) -> str:
    resolved = catalog.resolve(name)
    assert resolved is not None
    return resolved.bedrock_id


def test_discovery_dates_builtin_models_and_keeps_their_names() -> None:
    catalog = _discovered(US)
    opus = catalog.resolve("claude-opus-5-5")
    assert opus is not None
    assert opus.source == "builtin"
    assert opus.created_at == datetime(2026, 9, 1, 12, tzinfo=UTC)


def test_operator_mapping_beats_discovery() -> None:
    catalog = _discovered(US, operator_mappings={"claude-fable-6": "anthropic.claude-fable-5"})
    resolved = catalog.resolve("claude-fable-6")
    assert resolved is not None
    assert resolved.base_model_id == "anthropic.claude-fable-5"
    assert resolved.source == "operator"


# --- listing ---


def test_list_models_order_and_contents(catalog: ModelCatalog) -> None:
    models = catalog.list_models()
    names = [m.name for m in models]
    assert names[0] == "claude-opus-5-5"
    assert set(names) >= {name for name, _ in REFERENCE}
    assert not {"claude-sonnet-4-5", "claude-3-5-haiku-latest"} & set(names)  # no aliases
    dated = [m.created_at for m in models if m.created_at is not None]
    assert dated == sorted(dated, reverse=True)
    first_dated = next(i for i, m in enumerate(models) if m.created_at is not None)
    assert all(m.created_at is not None for m in models[first_dated:])
    assert {m.display_name for m in models} >= {"Claude Opus 5.5", "Claude Sonnet 4.5"}


def test_discovered_models_listed_before_builtin() -> None:
    names = [m.name for m in _discovered(US).list_models()]
    assert names[:3] == ["claude-fable-6", "claude-sonnet-6-20261101", "claude-opus-5-5"]


# --- name helpers ---


def test_builtin_display_names_follow_the_naming_rule() -> None:
    for row in load_builtin_models():
        expected = display_name_for(row.name)
        assert row.display_name.removesuffix(" (New)").removesuffix(" (Old)") == expected


@pytest.mark.parametrize(
    ("bedrock_id", "name"),
    [
        ("anthropic.claude-fable-6", "claude-fable-6"),
        ("anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-20241022"),
        ("anthropic.claude-3-sonnet-20240229-v1:0:200k", None),
        ("anthropic.claude-v2:1", None),
        ("anthropic.claude-instant-v1", None),
        ("amazon.nova-pro-v1:0", None),
    ],
)
def test_anthropic_name_for(bedrock_id: str, name: str | None) -> None:
    assert anthropic_name_for(bedrock_id) == name


def test_alias_for() -> None:
    assert alias_for("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5"
    assert alias_for("claude-3-5-haiku-20241022") == "claude-3-5-haiku-latest"
    assert alias_for("claude-opus-5-5") is None


@given(st.sampled_from([name for name, _ in REFERENCE]), st.sampled_from([*GEO_PREFIXES, "none"]))
def test_resolution_always_yields_a_valid_bedrock_id(name: str, setting: str) -> None:
    resolved = ModelCatalog.build(policy=ProfilePolicy.from_setting(setting)).resolve(name)
    assert resolved is not None
    ref = parse_model_id(resolved.bedrock_id)
    assert ref.base_model_id == resolved.base_model_id
    assert ref.geo_prefix == (None if setting == "none" else setting)
