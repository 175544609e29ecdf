"""The runtime routes: invoke[-with-response-stream], converse[-stream] and count-tokens."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any

from ops.emulator.anthropic import anthropic_prompt, message_json, stream_plan
from ops.emulator.catalogue import Resolved
from ops.emulator.completion import Completion, Prompt, plan_completion
from ops.emulator.config import DirectiveError, Knobs, find_directive
from ops.emulator.converse import converse_json, converse_prompt, converse_stream_plan
from ops.emulator.responses import (
    ERRORS_BY_STREAM_EXCEPTION,
    JSON_CONTENT,
    STREAM_EXCEPTION_BY_FAULT,
    Headers,
    Response,
    json_bytes,
    json_response,
    malformed_input,
    stream_exception_error,
    validation_error,
)
from ops.emulator.state import EmulatorState
from ops.emulator.stream import Send, mid_stream_fault, send_stream, send_unary
from ops.emulator.tokens import anthropic_segments, converse_segments, count_input_tokens
from proxy.eventstream import exception_frame

ACTIONS = frozenset(
    {"invoke", "invoke-with-response-stream", "converse", "converse-stream", "count-tokens"}
)
_STREAM_HEADERS = (
    (b"content-type", b"application/vnd.amazon.eventstream"),
    (b"x-amzn-bedrock-content-type", b"application/json"),
)


_VERSION_SUFFIX = re.compile(r"-v\d+(:\d+)?$")


def _anthropic_name(model_id: str) -> str:
    """ "anthropic.claude-sonnet-4-5-20250929-v1:0" → "claude-sonnet-4-5-20250929"."""
    return _VERSION_SUFFIX.sub("", model_id.removeprefix("anthropic."))


def _message_id() -> str:
    return f"msg_bdrk_{uuid.uuid4().hex[:24]}"


def _resolve(state: EmulatorState, model_id: str, *, on_demand_check: bool) -> Resolved:
    resolved = state.catalogue.resolve(model_id)
    if resolved is None:
        raise validation_error("The provided model identifier is invalid.")
    model = resolved.model
    if (
        on_demand_check
        and state.config.strict_inference_profiles
        and resolved.profile is None
        and "ON_DEMAND" not in model.inference_types
    ):
        raise validation_error(
            f"Invocation of model ID {model.model_id} with on-demand throughput isn\u2019t "
            "supported. Retry your request with the ID or ARN of an inference profile that "
            "contains this model."
        )
    return resolved


def _json_object(raw: bytes | str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise malformed_input("expected a JSON object") from None
    if not isinstance(value, dict):
        raise malformed_input("expected a JSON object")
    return value


def count_tokens(state: EmulatorState, model_id: str, body: bytes) -> Response:
    """CountTokens: the total input tokens (cached or not) an invoke/converse would report."""
    model = _resolve(state, model_id, on_demand_check=False).model
    if not model.anthropic:
        raise validation_error("The provided model doesn't support counting tokens.")
    request = _json_object(body).get("input")
    if isinstance(request, dict) and isinstance(request.get("invokeModel"), dict):
        try:
            raw = base64.b64decode(request["invokeModel"].get("body") or "", validate=True)
        except (binascii.Error, TypeError):
            raise validation_error("input.invokeModel.body must be base64") from None
        invoke_body = _json_object(raw)
        anthropic_prompt(invoke_body)
        segments = anthropic_segments(invoke_body)
    elif isinstance(request, dict) and isinstance(request.get("converse"), dict):
        segments = converse_segments(request["converse"])
    else:
        raise validation_error("input must contain invokeModel or converse.")
    return json_response({"inputTokens": count_input_tokens(segments)})


def _knobs_for(state: EmulatorState, prompt: Prompt, streaming: bool) -> Knobs:
    knobs = state.knobs
    try:
        directive = find_directive(prompt.last_user_text)
        if directive is not None:
            knobs = knobs.with_overrides(directive)
    except DirectiveError as exc:
        raise validation_error(str(exc)) from exc
    if knobs.fault in STREAM_EXCEPTION_BY_FAULT and not (streaming and mid_stream_fault(knobs)):
        raise stream_exception_error(STREAM_EXCEPTION_BY_FAULT[knobs.fault])
    if knobs.fault == "mid_stream_exception" and not streaming:
        raise stream_exception_error(knobs.exception_type)
    return knobs


def _exception(exception_type: str) -> bytes:
    return exception_frame(exception_type, ERRORS_BY_STREAM_EXCEPTION[exception_type][2])


def _invoke_headers(completion: Completion, request_id: str, latency_ms: int) -> Headers:
    usage = completion.usage
    return [
        JSON_CONTENT,
        (b"x-amzn-requestid", request_id.encode()),
        (b"x-amzn-bedrock-invocation-latency", str(latency_ms).encode()),
        (b"x-amzn-bedrock-output-token-count", str(usage.output_tokens).encode()),
        (b"x-amzn-bedrock-input-token-count", str(usage.input_tokens).encode()),
        (b"x-amzn-bedrock-cache-read-input-token-count", str(usage.cache_read).encode()),
        (b"x-amzn-bedrock-cache-write-input-token-count", str(usage.cache_write).encode()),
    ]


async def infer(
    state: EmulatorState,
    action: str,
    model_id: str,
    body: bytes,
    send: Send,
    started: float,
    request_id: str,
) -> None:
    """Answer one invoke/converse request (streamed or not), honouring knobs and faults."""
    resolved = _resolve(state, model_id, on_demand_check=True)
    converse = action.startswith("converse")
    if not converse and not resolved.model.anthropic:
        raise validation_error(
            "The emulator implements only the Anthropic body on InvokeModel; use Converse."
        )
    request = _json_object(body)
    prompt = converse_prompt(request) if converse else anthropic_prompt(request)
    streaming = action.endswith("stream")
    knobs = _knobs_for(state, prompt, streaming)
    segments = converse_segments(request) if converse else anthropic_segments(request)
    cache = state.prompt_cache.account(resolved.model.model_id, segments)
    completion = plan_completion(prompt, knobs, count_input_tokens(segments), cache)
    if streaming:
        if converse:
            plan = converse_stream_plan(completion)
        else:
            plan = stream_plan(completion, _anthropic_name(resolved.model.model_id), _message_id())
        headers = [*_STREAM_HEADERS, (b"x-amzn-requestid", request_id.encode())]
        await send_stream(send, started, knobs, plan, headers, _exception)
        return

    def render(latency_ms: int) -> tuple[bytes, Headers]:
        if converse:
            headers = [JSON_CONTENT, (b"x-amzn-requestid", request_id.encode())]
            return json_bytes(converse_json(completion, latency_ms)), headers
        name = _anthropic_name(resolved.model.model_id)
        payload = message_json(completion, name, _message_id())
        return json_bytes(payload), _invoke_headers(completion, request_id, latency_ms)

    await send_unary(send, started, knobs, completion.usage.output_tokens, render)
