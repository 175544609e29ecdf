"""Converse and ConverseStream: Bedrock's model-neutral message format."""

from __future__ import annotations

from typing import Any

from ops.emulator.completion import Block, Completion, Prompt, ToolChoice, ToolSpec
from ops.emulator.responses import validation_error
from ops.emulator.stream import StreamPlan
from proxy.eventstream import converse_event_frame


def _text_of(content: Any) -> str:
    if not isinstance(content, list):
        return ""
    return "\n".join(
        block["text"]
        for block in content
        if isinstance(block, dict) and isinstance(block.get("text"), str)
    )


def _tool_choice(choice: Any) -> tuple[ToolChoice, str | None]:
    if isinstance(choice, dict):
        if "tool" in choice:
            tool = choice["tool"]
            return "tool", tool.get("name") if isinstance(tool, dict) else None
        if "any" in choice:
            return "any", None
    return "auto", None


def converse_prompt(body: dict[str, Any]) -> Prompt:
    """Validate and read a Converse body (messages, inferenceConfig, toolConfig, thinking)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise validation_error("A conversation must contain at least one message.")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    config = body.get("inferenceConfig")
    max_tokens = config.get("maxTokens") if isinstance(config, dict) else None
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise validation_error("inferenceConfig.maxTokens must be an integer >= 1.")
    extra = body.get("additionalModelRequestFields")
    thinking = extra.get("thinking") if isinstance(extra, dict) else None
    tool_config = body.get("toolConfig")
    tool_config = tool_config if isinstance(tool_config, dict) else {}
    specs = [
        t["toolSpec"]
        for t in tool_config.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("toolSpec"), dict)
    ]
    choice, name = _tool_choice(tool_config.get("toolChoice"))
    return Prompt(
        last_user_text=_text_of(users[-1].get("content")) if users else "",
        max_tokens=max_tokens,
        thinking=isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"),
        tools=tuple(
            ToolSpec(str(s.get("name")), (s.get("inputSchema") or {}).get("json") or {})
            for s in specs
        ),
        tool_choice=choice,
        tool_name=name,
    )


def _usage(completion: Completion) -> dict[str, int]:
    usage = completion.usage
    return {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": (
            usage.input_tokens + usage.output_tokens + usage.cache_read + usage.cache_write
        ),
        "cacheReadInputTokens": usage.cache_read,
        "cacheWriteInputTokens": usage.cache_write,
    }


def _block_json(block: Block) -> dict[str, Any]:
    if block.kind == "thinking":
        text = {"text": block.text, "signature": block.signature}
        return {"reasoningContent": {"reasoningText": text}}
    if block.kind == "tool_use":
        tool = {
            "toolUseId": block.tool_id,
            "name": block.tool_name,
            "input": dict(block.tool_input),
        }
        return {"toolUse": tool}
    return {"text": block.text}


def converse_json(completion: Completion, latency_ms: int) -> dict[str, Any]:
    """The Converse response body."""
    content = [_block_json(block) for block in completion.blocks]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": completion.stop_reason,
        "usage": _usage(completion),
        "metrics": {"latencyMs": latency_ms},
    }


def _delta(block: Block, piece: str) -> dict[str, Any]:
    if block.kind == "thinking":
        return {"reasoningContent": {"text": piece}}
    if block.kind == "tool_use":
        return {"toolUse": {"input": piece}}
    return {"text": piece}


def converse_stream_plan(completion: Completion) -> StreamPlan:
    """The ConverseStream events; text blocks have no contentBlockStart, as on Bedrock."""
    plan = StreamPlan()
    plan.add(converse_event_frame("messageStart", {"role": "assistant"}))
    for index, block in enumerate(completion.blocks):
        if block.kind == "tool_use":
            start = {"toolUse": {"toolUseId": block.tool_id, "name": block.tool_name}}
            plan.add(
                converse_event_frame(
                    "contentBlockStart", {"start": start, "contentBlockIndex": index}
                )
            )
        for piece, tokens in zip(block.deltas, block.delta_tokens, strict=True):
            delta = {"delta": _delta(block, piece), "contentBlockIndex": index}
            plan.add(converse_event_frame("contentBlockDelta", delta), tokens)
        if block.kind == "thinking":
            delta = {
                "delta": {"reasoningContent": {"signature": block.signature}},
                "contentBlockIndex": index,
            }
            plan.add(converse_event_frame("contentBlockDelta", delta))
        plan.add(converse_event_frame("contentBlockStop", {"contentBlockIndex": index}))
    plan.add(converse_event_frame("messageStop", {"stopReason": completion.stop_reason}))
    usage = _usage(completion)

    def finish(latency_ms: int, first_byte_ms: int) -> bytes:
        del first_byte_ms
        return converse_event_frame(
            "metadata", {"usage": usage, "metrics": {"latencyMs": latency_ms}}
        )

    plan.finish = finish
    return plan
