"""The emulator's settings and the per-request behaviour knobs (defaults, directives, faults)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

import attrs
from attrs.validators import and_, ge, in_, instance_of, optional

Fault = Literal[
    "throttle",
    "mid_stream_exception",
    "reset",
    "slow_first_byte",
    "server_error",
    "overloaded",
]
FAULTS: tuple[str, ...] = get_args(Fault)
# The exception members of Bedrock's ResponseStream / ConverseStreamOutput unions.
STREAM_EXCEPTIONS = (
    "modelStreamErrorException",
    "internalServerException",
    "throttlingException",
    "validationException",
    "serviceUnavailableException",
    "modelTimeoutException",
)
DEFAULT_MID_STREAM_EVENTS = 2
_DIRECTIVE = re.compile(r"\[\[emulator\s*(\{.*?\})\s*\]\]", re.DOTALL)

_number = and_(instance_of((int, float)), ge(0.0))
_count = and_(instance_of(int), ge(1))


@attrs.frozen(kw_only=True)
class EmulatorConfig:
    """How the emulator authenticates callers and behaves by default."""

    access_key_id: str = "AKIDEMULATOREXAMPLE"
    secret_access_key: str = "emulator-secret-access-key"  # noqa: S105 - published demo key
    region: str = "us-east-1"
    verify_sigv4: bool = True
    latency_ms: float = attrs.field(default=0.0, validator=_number)
    ttft_ms: float = attrs.field(default=0.0, validator=_number)
    tokens_per_second: float = attrs.field(default=0.0, validator=_number)
    output_tokens: int = attrs.field(default=16, validator=_count)
    chunk_tokens: int = attrs.field(default=1, validator=_count)
    # Like AWS: newer Claude base ids are refused for on-demand use; call a profile instead.
    strict_inference_profiles: bool = True
    request_log_size: int = attrs.field(default=1000, validator=and_(instance_of(int), ge(0)))

    def knobs(self) -> Knobs:
        """The default knobs this configuration starts with."""
        return Knobs(
            latency_ms=self.latency_ms,
            ttft_ms=self.ttft_ms,
            tokens_per_second=self.tokens_per_second,
            output_tokens=self.output_tokens,
            chunk_tokens=self.chunk_tokens,
        )


@attrs.frozen(kw_only=True)
class Knobs:
    """Behaviour of one request: timing, size and an optional fault to inject."""

    latency_ms: float = attrs.field(validator=_number)
    ttft_ms: float = attrs.field(validator=_number)
    tokens_per_second: float = attrs.field(validator=_number)
    output_tokens: int = attrs.field(validator=_count)
    chunk_tokens: int = attrs.field(validator=_count)
    fault: Fault | None = attrs.field(default=None, validator=optional(in_(FAULTS)))
    fault_after_events: int | None = attrs.field(
        default=None, validator=optional(and_(instance_of(int), ge(0)))
    )
    exception_type: str = attrs.field(
        default="modelStreamErrorException", validator=in_(STREAM_EXCEPTIONS)
    )
    slow_first_byte_ms: float = attrs.field(default=5000.0, validator=_number)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Knobs:
        """These knobs with `overrides` applied; `DirectiveError` names a bad key or value."""
        known = {field.name for field in attrs.fields(Knobs)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise DirectiveError(f"unknown emulator knob(s) {unknown}; known: {sorted(known)}")
        if any(isinstance(value, bool) for value in overrides.values()):
            raise DirectiveError("emulator knobs take numbers or strings, not booleans")
        try:
            return attrs.evolve(self, **overrides)
        except (TypeError, ValueError) as exc:
            raise DirectiveError(f"bad emulator knob value: {exc}") from exc


class DirectiveError(ValueError):
    """An `[[emulator {...}]]` directive or a defaults update that cannot be applied."""


def find_directive(text: str) -> dict[str, Any] | None:
    """The JSON object of the first `[[emulator {...}]]` directive in `text`, if any."""
    if "[[emulator" not in text:
        return None
    match = _DIRECTIVE.search(text)
    if match is None:
        raise DirectiveError("malformed [[emulator {json}]] directive")
    try:
        value = json.loads(match.group(1))
    except ValueError as exc:
        raise DirectiveError(f"emulator directive is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DirectiveError("emulator directive must be a JSON object")
    return value
