"""InvokeModel[WithResponseStream] for Claude: the Anthropic Messages body and its answers."""

from __future__ import annotations

import json
from typing import Any

from ops.emulator.completion import TOOL_CHOICES, Block, Completion, Prompt, ToolSpec
from ops.emulator.responses import malformed_input
from ops.emulator.stream import StreamPlan
from proxy.eventstream import invoke_chunk_frame

_REQUIRED = ("anthropic_version", "max_tokens", "messages")
_EXTRANEOUS = ("model", "stream")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            block["text"]
            for block in content
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        )
    return ""


def anthropic_prompt(body: dict[str, Any]) -> Prompt:
    """Validate an invoke body the way Bedrock does (required and forbidden keys) and read it."""
    for key in _REQUIRED:
        if key not in body:
            raise malformed_input(f"#: required key [{key}] not found")
    for key in _EXTRANEOUS:
        if key in body:
            raise malformed_input(f"#: extraneous key [{key}] is not permitted")
    messages, max_tokens = body["messages"], body["max_tokens"]
    if not isinstance(messages, list) or not messages:
        raise malformed_input("#/messages: expected a non-empty array")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise malformed_input("#/max_tokens: expected integer >= 1")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    thinking = body.get("thinking")
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "name" in t]
    choice = body.get("tool_choice")
    choice_type = choice.get("type") if isinstance(choice, dict) else None
    return Prompt(
        last_user_text=_text_of(users[-1].get("content")) if users else "",
        max_tokens=max_tokens,
        thinking=isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"),
        tools=tuple(ToolSpec(str(t["name"]), t.get("input_schema") or {}) for t in tools),
        tool_choice=next((c for c in TOOL_CHOICES if c == choice_type), "auto"),
        tool_name=choice.get("name") if isinstance(choice, dict) else None,
    )


def _usage(completion: Completion, output_tokens: int) -> dict[str, int]:
    usage = completion.usage
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
        "output_tokens": output_tokens,
    }


def _block_json(block: Block) -> dict[str, Any]:
    if block.kind == "thinking":
        return {"type": "thinking", "thinking": block.text, "signature": block.signature}
    if block.kind == "tool_use":
        return {
            "type": "tool_use",
            "id": block.tool_id,
            "name": block.tool_name,
            "input": dict(block.tool_input),
        }
    return {"type": "text", "text": block.text}


def message_json(completion: Completion, model: str, message_id: str) -> dict[str, Any]:
    """The InvokeModel response body: one Anthropic message."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block_json(block) for block in completion.blocks],
        "stop_reason": completion.stop_reason,
        "stop_sequence": None,
        "usage": _usage(completion, completion.usage.output_tokens),
    }


def _start_block(block: Block) -> dict[str, Any]:
    if block.kind == "thinking":
        return {"type": "thinking", "thinking": ""}
    if block.kind == "tool_use":
        return {"type": "tool_use", "id": block.tool_id, "name": block.tool_name, "input": {}}
    return {"type": "text", "text": ""}


def _delta(block: Block, piece: str) -> dict[str, Any]:
    if block.kind == "thinking":
        return {"type": "thinking_delta", "thinking": piece}
    if block.kind == "tool_use":
        return {"type": "input_json_delta", "partial_json": piece}
    return {"type": "text_delta", "text": piece}


_ENCODE_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _frame(event: dict[str, Any]) -> bytes:
    return invoke_chunk_frame(_ENCODE_JSON(event).encode())


def stream_plan(completion: Completion, model: str, message_id: str) -> StreamPlan:
    """The InvokeModelWithResponseStream events, each in a `chunk` frame."""
    plan = StreamPlan()

    def add(event: dict[str, Any], tokens: int = 0) -> None:
        plan.add(_frame(event), tokens)

    message = message_json(completion, model, message_id) | {"content": [], "stop_reason": None}
    message["usage"] = _usage(completion, 1)
    add({"type": "message_start", "message": message})
    for index, block in enumerate(completion.blocks):
        add({"type": "content_block_start", "index": index, "content_block": _start_block(block)})
        for piece, tokens in zip(block.deltas, block.delta_tokens, strict=True):
            add(
                {"type": "content_block_delta", "index": index, "delta": _delta(block, piece)},
                tokens,
            )
        if block.kind == "thinking":
            signature = {"type": "signature_delta", "signature": block.signature}
            add({"type": "content_block_delta", "index": index, "delta": signature})
        add({"type": "content_block_stop", "index": index})
    add(
        {
            "type": "message_delta",
            "delta": {"stop_reason": completion.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": completion.usage.output_tokens},
        }
    )
    usage = completion.usage

    def finish(latency_ms: int, first_byte_ms: int) -> bytes:
        metrics = {
            "inputTokenCount": usage.input_tokens,
            "outputTokenCount": usage.output_tokens,
            "invocationLatency": latency_ms,
            "firstByteLatency": first_byte_ms,
            "cacheReadInputTokenCount": usage.cache_read,
            "cacheWriteInputTokenCount": usage.cache_write,
        }
        return _frame({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})

    plan.finish = finish
    return plan
