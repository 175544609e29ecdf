from __future__ import annotations

import re
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.model_ids import (
    GEO_PREFIXES,
    MAX_BASE_ID_LENGTH,
    MAX_MODEL_ID_LENGTH,
    MAX_PROFILE_ID_LENGTH,
    InvalidModelId,
    parse_model_id,
    validate_model_id,
)

BASE_IDS = [
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic"),
    ("anthropic.claude-opus-5-5", "anthropic"),
    ("anthropic.claude-opus-4-6-v1", "anthropic"),
    ("anthropic.claude-3-sonnet-20240229-v1:0:200k", "anthropic"),
    ("anthropic.claude-v2:1", "anthropic"),
    ("amazon.nova-pro-v1:0", "amazon"),
    ("amazon.titan-text-express-v1", "amazon"),
    ("meta.llama3-1-70b-instruct-v1:0", "meta"),
    ("cohere.command-r-plus-v1:0", "cohere"),
    ("cohere.rerank.v3-5", "cohere"),
    ("deepseek.r1-v1:0", "deepseek"),
    ("deepseek.v3.2", "deepseek"),
    ("mistral.mistral-large-2407-v1:0", "mistral"),
    ("mistral.mistral-7b-instruct-v0:2", "mistral"),
    ("openai.gpt-oss-120b-1:0", "openai"),
]
ACCOUNT = "123456789012"


@pytest.mark.parametrize(("model_id", "provider"), BASE_IDS)
def test_base_ids(model_id: str, provider: str) -> None:
    assert validate_model_id(model_id) == model_id
    ref = parse_model_id(model_id)
    assert (ref.kind, ref.base_model_id, ref.provider, ref.geo_prefix, ref.region) == (
        "base",
        model_id,
        provider,
        None,
        None,
    )
    assert ref.is_anthropic == (provider == "anthropic")


@pytest.mark.parametrize("geo", GEO_PREFIXES)
@pytest.mark.parametrize(
    "base", ["anthropic.claude-opus-5-5", "anthropic.claude-sonnet-4-5-20250929-v1:0"]
)
def test_inference_profiles(geo: str, base: str) -> None:
    ref = parse_model_id(f"{geo}.{base}")
    assert (ref.kind, ref.geo_prefix, ref.base_model_id) == ("inference_profile", geo, base)
    assert ref.is_anthropic


@pytest.mark.parametrize(
    ("arn", "kind", "base", "region"),
    [
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/"
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "arn_inference_profile",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "us-east-1",
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            "arn_foundation",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "us-east-1",
        ),
        (
            f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/abc123",
            "arn_application_profile",
            None,
            "eu-west-1",
        ),
        (
            f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdef123456",
            "arn_other",
            None,
            "us-west-2",
        ),
        (
            "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/"
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            "arn_foundation",
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            "us-gov-west-1",
        ),
        (
            f"arn:aws-us-gov:bedrock:us-gov-west-1:{ACCOUNT}:inference-profile/"
            "us-gov.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "arn_inference_profile",
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            "us-gov-west-1",
        ),
        (
            "arn:aws-cn:bedrock:cn-north-1::foundation-model/amazon.nova-pro-v1:0",
            "arn_foundation",
            "amazon.nova-pro-v1:0",
            "cn-north-1",
        ),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/"
            "amazon.titan-text-express-v1:0:8k/abcdef123456",
            "arn_other",
            None,
            "us-east-1",
        ),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:default-prompt-router/anthropic.claude:1",
            "arn_other",
            None,
            "us-east-1",
        ),
    ],
)
def test_arns(arn: str, kind: str, base: str | None, region: str) -> None:
    assert validate_model_id(arn) == arn
    ref = parse_model_id(arn)
    assert (ref.kind, ref.base_model_id, ref.region) == (kind, base, region)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("a" * (MAX_MODEL_ID_LENGTH + 1), "longer than"),
        ("anthropic.claude opus", "whitespace"),
        ("anthropic.claude\topus", "whitespace"),
        ("anthropic.claude\x00", "control"),
        ("anthropic.claude\x7f", "control"),
        ("anthropic.claude-opus-5-5\n", "whitespace"),
        ("anthropic.claudé", "non-ASCII"),
        ("anthropic.claude-3-haiku-20240307-v1%3A0", "percent"),
        ("anthropic%2Eclaude", "percent"),
        ("anthropic.claude\\x", "backslash"),
        ("anthropic.claude?x=1", "'?'"),
        ("anthropic.claude#x", "'#'"),
        ("..", "'..'"),
        ("anthropic..claude", "'..'"),
        ("anthropic.claude/../../admin", "'..'"),
        ("anthropic.claude/invoke", "'/' outside an ARN"),
        ("/anthropic.claude", "'/' outside an ARN"),
        ("claude-opus-5-5", "not a valid"),
        ("Anthropic.Claude-opus", "not a valid"),
        ("anthropic.", "not a valid"),
        (".claude", "not a valid"),
        ("anthropic.claude;v=1", "not a valid"),
        ("us.claude-opus", "not a valid"),
        ("xx.us.anthropic.claude-opus-5-5.extra", "not a valid"),
        ("anthropic.claude-x:1:2:3", "not a valid"),
        ("arn:aws:s3:::bucket/key", "not a valid Bedrock ARN"),
        ("arn:aws:bedrock:us-east-1:123:foundation-model/anthropic.x", "not a valid Bedrock ARN"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:foundation-model/anthropic.x", "foundation-model"),
        ("arn:aws:bedrock:us-east-1::inference-profile/us.anthropic.x", "account"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/anthropic.x", "inference-prof"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/a/b", "provisioned-model"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt/ABCDEFGHIJ:1", "unsupported"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:agent/x", "unsupported"),
        ("arn:aws:bedrock:US-EAST-1::foundation-model/anthropic.x", "not a valid Bedrock ARN"),
    ],
)
def test_rejected(raw: str, reason: str) -> None:
    with pytest.raises(InvalidModelId, match="(?i)" + _escape(reason)):
        validate_model_id(raw)
    with pytest.raises(ValueError, match="(?i)" + _escape(reason)):  # a ValueError subclass
        parse_model_id(raw)


def _escape(text: str) -> str:
    return re.escape(text)


def test_length_limits() -> None:
    def base_of(length: int) -> str:
        head = "anthropic." + "a" * 60 + "." + "b" * 60
        return head[:length] if length <= len(head) else head + ":" + "c" * (length - 132)

    assert parse_model_id(base_of(MAX_BASE_ID_LENGTH)).kind == "base"
    with pytest.raises(InvalidModelId):
        validate_model_id(base_of(MAX_BASE_ID_LENGTH + 1))
    profile = "us." + base_of(MAX_PROFILE_ID_LENGTH - 3)
    assert parse_model_id(profile).kind == "inference_profile"
    with pytest.raises(InvalidModelId):
        validate_model_id("us." + base_of(MAX_PROFILE_ID_LENGTH - 2))


def test_validate_expects_decoded_text() -> None:
    """The web layer percent-decodes the path segment once; validation never decodes."""
    sent_by_boto3 = "anthropic.claude-3-haiku-20240307-v1%3A0"
    with pytest.raises(InvalidModelId):
        validate_model_id(sent_by_boto3)
    assert validate_model_id(urllib.parse.unquote(sent_by_boto3)).endswith("v1:0")
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123"
    sent_by_anthropic_sdk = urllib.parse.quote(arn, safe=":;")
    assert "%2F" in sent_by_anthropic_sdk
    assert validate_model_id(urllib.parse.unquote(sent_by_anthropic_sdk)) == arn
    double = urllib.parse.quote(sent_by_anthropic_sdk, safe=":;")
    with pytest.raises(InvalidModelId, match="percent"):
        validate_model_id(urllib.parse.unquote(double))


# --- properties ---

_alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
segments = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(_alnum),
    st.text(alphabet=_alnum + "-", max_size=12),
)
providers = segments.filter(lambda s: s not in GEO_PREFIXES)
base_ids = st.builds(
    lambda provider, parts, versions: (
        ".".join([provider, *parts]) + "".join(":" + v for v in versions)
    ),
    providers,
    st.lists(segments, min_size=1, max_size=3),
    st.lists(segments, max_size=2),
).filter(lambda s: ".." not in s and len(s) <= MAX_BASE_ID_LENGTH)
regions = st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1"])


@given(base_ids)
def test_generated_base_ids_are_accepted(model_id: str) -> None:
    ref = parse_model_id(model_id)
    assert (ref.kind, ref.base_model_id) == ("base", model_id)
    assert ref.provider == model_id.split(".", 1)[0]


@given(base_ids, st.sampled_from(GEO_PREFIXES), regions)
def test_generated_profiles_and_arns_name_their_base(base: str, geo: str, region: str) -> None:
    profile = f"{geo}.{base}"
    if len(profile) <= MAX_PROFILE_ID_LENGTH:
        assert parse_model_id(profile).base_model_id == base
        arn = f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile}"
        ref = parse_model_id(arn)
        assert (ref.kind, ref.base_model_id, ref.geo_prefix) == ("arn_inference_profile", base, geo)
    ref = parse_model_id(f"arn:aws:bedrock:{region}::foundation-model/{base}")
    assert (ref.kind, ref.base_model_id, ref.region) == ("arn_foundation", base, region)


_forbidden = st.sampled_from(
    [" ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "%", "\\", "?", "#", "/", "..", "é", "\u2028"]
)


@given(base_ids, _forbidden, st.data())
def test_forbidden_characters_are_rejected_anywhere(
    base: str, bad: str, data: st.DataObject
) -> None:
    for model_id in (base, f"arn:aws:bedrock:us-east-1::foundation-model/{base}"):
        at = data.draw(st.integers(0, len(model_id)))
        candidate = model_id[:at] + bad + model_id[at:]
        if bad == "/" and candidate.startswith("arn:"):
            continue  # '/' is part of the ARN grammar; covered by the examples above
        with pytest.raises(InvalidModelId):
            validate_model_id(candidate)


@given(st.text(max_size=300))
def test_arbitrary_text_is_accepted_unchanged_or_rejected_cleanly(text: str) -> None:
    try:
        result = validate_model_id(text)
    except InvalidModelId:
        return
    assert result == text
    assert text.isascii()
    assert ".." not in text
    assert "%" not in text
    assert not any(c.isspace() for c in text)
