"""Reading usage off Bedrock responses as they pass (sans-I/O: fed frames or bodies).

Anthropic models report tokens in `message_start` (input and cache), `message_delta`
(cumulative output) and, last, `amazon-bedrock-invocationMetrics` on `message_stop`, which is
authoritative. Converse reports them in its `metadata` event or body `usage`; non-streaming
InvokeModel in the body's `usage` or the `x-amzn-bedrock-*-token-count` headers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from proxy.eventstream import DecodedMessage, EventStreamError, chunk_event, decode_message

METRICS_KEY = "amazon-bedrock-invocationMetrics"


@attrs.define
class Usage:
    """Tokens and outcome of one call, filled in as the response passes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    stop_reason: str | None = None
    complete: bool = False  # the final usage (metrics / metadata) was seen
    error_type: str | None = None
    error_message: str | None = None

    def apply_anthropic_usage(self, usage: Mapping[str, Any]) -> None:
        """Take the fields present in an Anthropic `usage` object."""
        if "input_tokens" in usage:
            self.input_tokens = _int(usage["input_tokens"])
        if "output_tokens" in usage:
            self.output_tokens = _int(usage["output_tokens"])
        if "cache_read_input_tokens" in usage:
            self.cache_read_tokens = _int(usage["cache_read_input_tokens"])
        if "cache_creation_input_tokens" in usage:
            total = _int(usage["cache_creation_input_tokens"])
            split = usage.get("cache_creation")
            one_hour = (
                _int(split.get("ephemeral_1h_input_tokens", 0)) if isinstance(split, dict) else 0
            )
            self.cache_write_1h_tokens = min(one_hour, total)
            self.cache_write_5m_tokens = total - self.cache_write_1h_tokens

    def apply_invocation_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Bedrock's final, authoritative counts."""
        self.input_tokens = _int(metrics.get("inputTokenCount", self.input_tokens))
        self.output_tokens = _int(metrics.get("outputTokenCount", self.output_tokens))
        if "cacheReadInputTokenCount" in metrics:
            self.cache_read_tokens = _int(metrics["cacheReadInputTokenCount"])
        if "cacheWriteInputTokenCount" in metrics:
            self._set_cache_write(_int(metrics["cacheWriteInputTokenCount"]))
        self.complete = True

    def apply_converse_usage(self, usage: Mapping[str, Any]) -> None:
        """Converse's `usage` object."""
        self.input_tokens = _int(usage.get("inputTokens", self.input_tokens))
        self.output_tokens = _int(usage.get("outputTokens", self.output_tokens))
        self.cache_read_tokens = _int(usage.get("cacheReadInputTokens", self.cache_read_tokens))
        if "cacheWriteInputTokens" in usage:
            self._set_cache_write(_int(usage["cacheWriteInputTokens"]))
        self.complete = True

    def _set_cache_write(self, total: int) -> None:
        # keep the 5m/1h split seen in message_start when the totals agree
        self.cache_write_1h_tokens = min(self.cache_write_1h_tokens, total)
        self.cache_write_5m_tokens = total - self.cache_write_1h_tokens


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


@attrs.frozen
class ChunkEvent:
    """One Anthropic event from an invoke stream: parsed, and the exact JSON bytes Bedrock sent."""

    event: dict[str, Any]
    data: bytes

    @property
    def type(self) -> str:
        """The event's `type`."""
        return str(self.event.get("type", ""))


def decode_chunk_event(message: DecodedMessage) -> ChunkEvent | None:
    """The Anthropic event inside an InvokeModelWithResponseStream chunk message."""
    try:
        data = chunk_event(message)
        if data is None:
            return None
        inner = json.loads(data)
    except (EventStreamError, ValueError):
        return None
    return ChunkEvent(inner, data) if isinstance(inner, dict) else None


def observe_anthropic_event(usage: Usage, event: Mapping[str, Any]) -> None:
    """Update `usage` from one Anthropic streaming event."""
    kind = event.get("type")
    if kind == "message_start":
        message = event.get("message")
        if isinstance(message, dict) and isinstance(message.get("usage"), dict):
            usage.apply_anthropic_usage(message["usage"])
    elif kind == "message_delta":
        if isinstance(event.get("usage"), dict):
            usage.apply_anthropic_usage(event["usage"])
        delta = event.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason"):
            usage.stop_reason = str(delta["stop_reason"])
    elif kind == "error":
        error = event.get("error")
        if isinstance(error, dict):
            usage.error_type = str(error.get("type", "error"))
            usage.error_message = str(error.get("message", ""))[:1024]
    metrics = event.get(METRICS_KEY)
    if isinstance(metrics, dict):
        usage.apply_invocation_metrics(metrics)


@attrs.define
class StreamTap:
    """Feeds on raw eventstream frames of InvokeModelWithResponseStream or ConverseStream."""

    converse: bool
    usage: Usage = attrs.field(factory=Usage)
    frames: int = 0

    def frame(self, raw: bytes) -> ChunkEvent | None:
        """Observe one frame; returns the Anthropic event of an invoke chunk (for translators).

        Exception frames return None and set `usage.error_type`/`error_message`."""
        self.frames += 1
        try:
            message = decode_message(raw)
        except EventStreamError as exc:
            self.usage.error_type = "eventStreamError"
            self.usage.error_message = str(exc)[:1024]
            return None
        headers = message.headers
        if headers.get(":message-type") == "exception":
            self.usage.error_type = str(headers.get(":exception-type", "exception"))
            self.usage.error_message = _message_of(message.payload)
            return None
        if self.converse:
            self._converse_event(str(headers.get(":event-type", "")), message.payload)
            return None
        if headers.get(":event-type") != "chunk":
            return None
        chunk = decode_chunk_event(message)
        if chunk is not None:
            observe_anthropic_event(self.usage, chunk.event)
        return chunk

    def _converse_event(self, kind: str, payload: bytes) -> None:
        try:
            body = json.loads(payload)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        if kind == "messageStop" and body.get("stopReason"):
            self.usage.stop_reason = str(body["stopReason"])
        elif kind == "metadata" and isinstance(body.get("usage"), dict):
            self.usage.apply_converse_usage(body["usage"])


def _message_of(payload: bytes) -> str:
    try:
        body = json.loads(payload)
    except ValueError:
        return payload[:1024].decode("utf-8", "replace")
    if isinstance(body, dict):
        return str(body.get("message") or body.get("Message") or "")[:1024]
    return ""


def usage_from_body(body: bytes, headers: Mapping[str, str], *, converse: bool) -> Usage:
    """Usage of a non-streaming InvokeModel or Converse answer."""
    usage = Usage()
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        if converse:
            if isinstance(parsed.get("usage"), dict):
                usage.apply_converse_usage(parsed["usage"])
            if parsed.get("stopReason"):
                usage.stop_reason = str(parsed["stopReason"])
        else:
            if isinstance(parsed.get("usage"), dict):
                usage.apply_anthropic_usage(parsed["usage"])
                usage.complete = True
            if parsed.get("stop_reason"):
                usage.stop_reason = str(parsed["stop_reason"])
    if not usage.complete and "x-amzn-bedrock-input-token-count" in headers:
        usage.apply_invocation_metrics(
            {
                "inputTokenCount": _header_int(headers, "x-amzn-bedrock-input-token-count"),
                "outputTokenCount": _header_int(headers, "x-amzn-bedrock-output-token-count"),
                "cacheReadInputTokenCount": _header_int(
                    headers, "x-amzn-bedrock-cache-read-input-token-count"
                ),
                "cacheWriteInputTokenCount": _header_int(
                    headers, "x-amzn-bedrock-cache-write-input-token-count"
                ),
            }
        )
    return usage


def _header_int(headers: Mapping[str, str], name: str) -> int:
    try:
        return max(int(headers.get(name, "0")), 0)
    except ValueError:
        return 0
