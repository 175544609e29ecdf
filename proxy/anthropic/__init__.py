"""The Anthropic Messages API on Bedrock, sans-I/O: requests, beta flags, SSE, errors, models."""

from __future__ import annotations

from proxy.anthropic.betas import BetaDecision, BetaPolicy, DroppedFlag, split_beta_header
from proxy.anthropic.errors import (
    AnthropicError,
    MappedError,
    map_bedrock_error,
    stream_error_type,
)
from proxy.anthropic.model_list import model_info, model_page
from proxy.anthropic.request import (
    BEDROCK_ANTHROPIC_VERSION,
    MessagesRequest,
    count_tokens_answer,
    count_tokens_body,
    invoke_body,
    message_with_model,
    parse_messages_request,
)
from proxy.anthropic.sse import PING, SSE_CONTENT_TYPE, SseTranslator, error_event, sse_event

__all__ = [
    "BEDROCK_ANTHROPIC_VERSION",
    "PING",
    "SSE_CONTENT_TYPE",
    "AnthropicError",
    "BetaDecision",
    "BetaPolicy",
    "DroppedFlag",
    "MappedError",
    "MessagesRequest",
    "SseTranslator",
    "count_tokens_answer",
    "count_tokens_body",
    "error_event",
    "invoke_body",
    "map_bedrock_error",
    "message_with_model",
    "model_info",
    "model_page",
    "parse_messages_request",
    "split_beta_header",
    "sse_event",
    "stream_error_type",
]
