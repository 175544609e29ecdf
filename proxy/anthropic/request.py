"""Anthropic Messages requests to Bedrock InvokeModel bodies, and answers back (sans-I/O).

Only what Bedrock would reject anyway, or what the proxy needs, is validated (`model`,
`messages`, `max_tokens`, `stream`); every other field — `system` strings or blocks with
`cache_control`, tools of every type, `thinking`, `metadata`, fields not invented yet — is
passed through as the client sent it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import attrs

from proxy.anthropic.errors import INVALID_REQUEST, AnthropicError

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
COUNT_TOKENS_MAX_TOKENS = 1  # InvokeModel's schema requires max_tokens; counting ignores it
MAX_MODEL_NAME_CHARS = 256

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@attrs.frozen
class MessagesRequest:
    """A validated Messages (or count_tokens) request: the body minus nothing, yet."""

    body: dict[str, Any]
    model: str
    stream: bool
    body_betas: tuple[str, ...]  # a non-standard `anthropic_beta` the client put in the body


def _invalid(message: str) -> AnthropicError:
    return AnthropicError(400, INVALID_REQUEST, message)


def parse_messages_request(raw: bytes, *, count_tokens: bool = False) -> MessagesRequest:
    """Parse and check a request body; raises `AnthropicError` (400) worded like Anthropic."""
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise _invalid("The request body is not valid UTF-8.") from None
    except ValueError as exc:
        raise _invalid(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise _invalid("model: Field required")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model: Input should be a non-empty string")
    if len(model) > MAX_MODEL_NAME_CHARS:
        raise _invalid(f"model: String should have at most {MAX_MODEL_NAME_CHARS} characters")
    messages = body.get("messages")
    if messages is None:
        raise _invalid("messages: Field required")
    if not isinstance(messages, list):
        raise _invalid("messages: Input should be a valid list")
    if not messages:
        raise _invalid("messages: at least one message is required")
    if not count_tokens:
        _check_max_tokens(body.get("max_tokens", None), "max_tokens" in body)
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _invalid("stream: Input should be a valid boolean")
    if count_tokens:
        stream = False
    return MessagesRequest(body, model, stream, _body_betas(body.get("anthropic_beta")))


def _check_max_tokens(value: Any, present: bool) -> None:
    if not present:
        raise _invalid("max_tokens: Field required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("max_tokens: Input should be a valid integer")
    if value < 1:
        raise _invalid("max_tokens: Input should be greater than or equal to 1")


def _body_betas(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _invalid("anthropic_beta: Input should be a list of strings")


def invoke_body(request: MessagesRequest, betas: Sequence[str]) -> bytes:
    """The InvokeModel body: the client's fields minus `model`/`stream`, plus the Bedrock
    `anthropic_version` and the filtered `anthropic_beta` (absent when empty)."""
    body: dict[str, Any] = {"anthropic_version": BEDROCK_ANTHROPIC_VERSION}
    for key, value in request.body.items():
        if key not in ("model", "stream", "anthropic_version", "anthropic_beta"):
            body[key] = value
    if betas:
        body["anthropic_beta"] = list(betas)
    return _encode(body).encode()


def count_tokens_body(request: MessagesRequest, betas: Sequence[str]) -> bytes:
    """Bedrock CountTokens input: the InvokeModel-shaped body (tools and system included)."""
    body = request.body
    if "max_tokens" not in body:
        request = attrs.evolve(request, body={**body, "max_tokens": COUNT_TOKENS_MAX_TOKENS})
    encoded = base64.b64encode(invoke_body(request, betas)).decode("ascii")
    return _encode({"input": {"invokeModel": {"body": encoded}}}).encode()


def count_tokens_answer(raw: bytes) -> bytes | None:
    """`{"input_tokens": N}` from Bedrock's `{"inputTokens": N}`; None if it is not that."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    tokens = parsed.get("inputTokens") if isinstance(parsed, dict) else None
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        return None
    return _encode({"input_tokens": tokens}).encode()


def message_with_model(raw: bytes, model: str) -> bytes:
    """A non-streaming answer with `model` set to the name the client asked for.

    Bodies that are not a JSON object are returned unchanged."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(parsed, dict):
        return raw
    parsed["model"] = model
    return _encode(parsed).encode()
