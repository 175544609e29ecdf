"""Bedrock model identifiers: strict validation and parsing of ids, profile ids and ARNs.

`validate_model_id` takes the text a client put in `/model/{model_id}/...` *after* the web
layer percent-decoded the path segment exactly once (boto3 sends `:` as `%3A`, and the
Anthropic SDK sends an ARN's `/` as `%2F`). A `%` left after that decoding means the client
encoded twice, and is rejected rather than decoded again.

Accepted grammar (all of it ASCII, no whitespace or control characters)::

    SEGMENT  = [a-z0-9][a-z0-9-]{0,62}
    BASE     = SEGMENT "." SEGMENT ("." SEGMENT){0,2} (":" SEGMENT){0,2}      max 140 chars
    GEO      = "us" | "eu" | "apac" | "us-gov" | "jp" | "au" | "ca" | "global"
    PROFILE  = GEO "." BASE                                                   max 64 chars
    ARN      = "arn:" PARTITION ":bedrock:" REGION ":" [ACCOUNT] ":" RESOURCE  max 2048 chars
    PARTITION = "aws" | "aws-us-gov" | "aws-cn" | "aws-iso" | "aws-iso-b"
    REGION   = [a-z]{2}(-[a-z]+)+-[0-9]{1,2}        ACCOUNT = [0-9]{12}
    RESOURCE = "foundation-model/" BASE                       (no account)
             | "inference-profile/" PROFILE                   (account)
             | "application-inference-profile/" NAME          (account)
             | ("provisioned-model" | "custom-model-deployment" | "imported-model") "/" NAME
             | "custom-model/" BASE "/" NAME
             | ("prompt-router" | "default-prompt-router") "/" ROUTER
    NAME     = [a-z0-9]{1,64}           ROUTER = [a-zA-Z0-9][a-zA-Z0-9.:-]{0,127}

The limits come from botocore's `bedrock` shapes (`BedrockModelId` max 140,
`InferenceProfileId` max 64, `InvokeModelIdentifier` max 2048). A first segment that is a
geography prefix must introduce a valid profile id, so `us.foo` is not a base id of
provider `us`. Bare application-profile ids, prompt ARNs and SageMaker endpoints are not
accepted.
"""

from __future__ import annotations

import re
from typing import Literal

import attrs

from proxy.errors import InvalidModelId

__all__ = [
    "GEO_PREFIXES",
    "InvalidModelId",
    "ModelIdKind",
    "ModelRef",
    "is_model_id_syntax",
    "parse_model_id",
    "validate_model_id",
]

MAX_MODEL_ID_LENGTH = 2048
MAX_BASE_ID_LENGTH = 140
MAX_PROFILE_ID_LENGTH = 64

GEO_PREFIXES: tuple[str, ...] = ("us", "eu", "apac", "us-gov", "jp", "au", "ca", "global")
"""Inference-profile geography prefixes AWS uses (`global` routes to any commercial region)."""

ModelIdKind = Literal[
    "base",
    "inference_profile",
    "arn_foundation",
    "arn_inference_profile",
    "arn_application_profile",
    "arn_other",
]

_SEG = r"[a-z0-9][a-z0-9-]{0,62}"
_BASE = rf"{_SEG}\.{_SEG}(?:\.{_SEG}){{0,2}}(?::{_SEG}){{0,2}}"
_GEO = "|".join(sorted((re.escape(g) for g in GEO_PREFIXES), key=len, reverse=True))
_NAME = r"[a-z0-9]{1,64}"
_BASE_RE = re.compile(_BASE)
_PROFILE_RE = re.compile(rf"(?P<geo>{_GEO})\.(?P<base>{_BASE})")
_ARN_RE = re.compile(
    r"arn:(?P<partition>aws(?:-us-gov|-cn|-iso-b|-iso)?):bedrock:"
    r"(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}):(?P<account>[0-9]{12})?:"
    r"(?P<type>[a-z-]{1,40})/(?P<resource>.+)"
)
_NAMED_RESOURCES = ("provisioned-model", "custom-model-deployment", "imported-model")
_ROUTER_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9.:-]{0,127}")
_CUSTOM_RE = re.compile(rf"(?P<base>{_BASE})/{_NAME}")


@attrs.frozen
class ModelRef:
    """What a validated model id names, and the base model behind it when that is knowable."""

    model_id: str
    kind: ModelIdKind
    geo_prefix: str | None = None
    base_model_id: str | None = None
    region: str | None = None
    provider: str | None = None
    arn_resource_type: str | None = None

    @property
    def is_anthropic(self) -> bool:
        """True when the model behind the id is an Anthropic model."""
        return self.provider == "anthropic"


def validate_model_id(raw: str) -> str:
    """Return `raw` unchanged if it is a valid (already percent-decoded) model id, else raise."""
    _check_characters(raw)
    _classify(raw)
    return raw


def parse_model_id(model_id: str) -> ModelRef:
    """Validate `model_id` and describe it; raises `InvalidModelId`."""
    _check_characters(model_id)
    return _classify(model_id)


def is_model_id_syntax(text: str) -> bool:
    """True if `text` is a valid model id (a non-raising `validate_model_id`)."""
    try:
        validate_model_id(text)
    except InvalidModelId:
        return False
    return True


def _check_characters(raw: str) -> None:
    if not raw:
        raise InvalidModelId("model id is empty")
    if len(raw) > MAX_MODEL_ID_LENGTH:
        raise InvalidModelId(f"model id is longer than {MAX_MODEL_ID_LENGTH} characters")
    if not raw.isascii():
        raise InvalidModelId("model id contains non-ASCII characters")
    if any(c.isspace() or not c.isprintable() for c in raw):
        raise InvalidModelId("model id contains whitespace or control characters")
    for char, why in (
        ("%", "a '%' (percent-encoded twice?)"),
        ("\\", "a backslash"),
        ("?", "a '?'"),
        ("#", "a '#'"),
    ):
        if char in raw:
            raise InvalidModelId(f"model id contains {why}")
    if ".." in raw:
        raise InvalidModelId("model id contains '..'")
    if "/" in raw and not raw.startswith("arn:"):
        raise InvalidModelId("model id contains '/' outside an ARN resource")


def _classify(raw: str) -> ModelRef:
    if raw.startswith("arn:"):
        return _classify_arn(raw)
    profile = _parse_profile(raw)
    if profile is not None:
        return profile
    base = _parse_base(raw)
    if base is None:
        raise InvalidModelId(f"not a valid Bedrock model id: {raw!r}")
    return base


def _parse_base(text: str) -> ModelRef | None:
    if len(text) > MAX_BASE_ID_LENGTH or not _BASE_RE.fullmatch(text):
        return None
    provider = text.split(".", 1)[0]
    if provider in GEO_PREFIXES:
        return None
    return ModelRef(model_id=text, kind="base", base_model_id=text, provider=provider)


def _parse_profile(text: str) -> ModelRef | None:
    m = _PROFILE_RE.fullmatch(text)
    if m is None or len(text) > MAX_PROFILE_ID_LENGTH:
        return None
    base = _parse_base(m["base"])
    if base is None:
        return None
    return ModelRef(
        model_id=text,
        kind="inference_profile",
        geo_prefix=m["geo"],
        base_model_id=base.model_id,
        provider=base.provider,
    )


def _classify_arn(raw: str) -> ModelRef:
    m = _ARN_RE.fullmatch(raw)
    if m is None:
        raise InvalidModelId("not a valid Bedrock ARN")
    rtype, resource, region, account = m["type"], m["resource"], m["region"], m["account"]
    if rtype == "foundation-model":
        base = _parse_base(resource)
        if account is not None or base is None:
            raise InvalidModelId("not a valid foundation-model ARN")
        return attrs.evolve(
            base, model_id=raw, kind="arn_foundation", region=region, arn_resource_type=rtype
        )
    if account is None:
        raise InvalidModelId(f"a {rtype} ARN needs an account id")
    if rtype == "inference-profile":
        profile = _parse_profile(resource)
        if profile is None:
            raise InvalidModelId("not a valid inference-profile ARN")
        return attrs.evolve(
            profile,
            model_id=raw,
            kind="arn_inference_profile",
            region=region,
            arn_resource_type=rtype,
        )
    kind: ModelIdKind = "arn_other"
    provider = None
    if rtype == "application-inference-profile" or rtype in _NAMED_RESOURCES:
        ok = re.fullmatch(_NAME, resource) is not None
        if rtype == "application-inference-profile":
            kind = "arn_application_profile"
    elif rtype == "custom-model":
        custom = _CUSTOM_RE.fullmatch(resource)
        ok = custom is not None and _parse_base(custom["base"]) is not None
        provider = custom["base"].split(".", 1)[0] if custom is not None else None
    elif rtype in ("prompt-router", "default-prompt-router"):
        ok = _ROUTER_RE.fullmatch(resource) is not None
    else:
        raise InvalidModelId(f"unsupported Bedrock ARN resource type {rtype!r}")
    if not ok:
        raise InvalidModelId(f"not a valid {rtype} ARN")
    return ModelRef(
        model_id=raw, kind=kind, region=region, provider=provider, arn_resource_type=rtype
    )
