"""What the emulated model answers: a deterministic plan of content blocks and usage.

Both wire formats (Anthropic invoke, Converse) extract a `Prompt` and render the same
`Completion`, so their token numbers always agree.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from ops.emulator.config import Knobs
from ops.emulator.tokens import CacheUsage

_TEXT = (
    "Hello from the Bedrock emulator. This deterministic reply has one word for every output "
    "token requested, so usage numbers are easy to check in tests and benchmarks."
)
_THINKING = "Let me think about this step by step before I answer, considering what was asked."
_WEATHER = re.compile(r"\bweather\b", re.IGNORECASE)
_JSON_CHARS_PER_TOKEN = 8
ToolChoice = Literal["auto", "any", "tool", "none"]
TOOL_CHOICES: tuple[ToolChoice, ...] = ("auto", "any", "tool", "none")


@attrs.frozen
class ToolSpec:
    """A tool the caller offered: its name and JSON schema."""

    name: str
    schema: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class Prompt:
    """The parts of a request that decide the answer."""

    last_user_text: str
    max_tokens: int | None
    thinking: bool
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    tool_name: str | None = None


@attrs.frozen(kw_only=True)
class Block:
    """One content block, pre-cut into deltas of `chunk_tokens` tokens each."""

    kind: Literal["thinking", "text", "tool_use"]
    deltas: tuple[str, ...]
    delta_tokens: tuple[int, ...]
    signature: str = ""
    tool_id: str = ""
    tool_name: str = ""
    tool_input: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def text(self) -> str:
        """All deltas joined: the block's text, thinking or input JSON."""
        return "".join(self.deltas)


@attrs.frozen
class Usage:
    """Token counts of one request, Anthropic's way: `input` excludes cached tokens."""

    input_tokens: int
    output_tokens: int
    cache_read: int = 0
    cache_write: int = 0


@attrs.frozen
class Completion:
    """The whole answer: blocks, why it stopped, and usage."""

    blocks: tuple[Block, ...]
    stop_reason: str
    usage: Usage


def choose_tool(prompt: Prompt) -> ToolSpec | None:
    """The tool to call: forced by tool_choice, or the word "weather" in the last user text."""
    if not prompt.tools or prompt.tool_choice == "none":
        return None
    if prompt.tool_choice == "tool":
        named = [tool for tool in prompt.tools if tool.name == prompt.tool_name]
        return named[0] if named else prompt.tools[0]
    if prompt.tool_choice == "any" or _WEATHER.search(prompt.last_user_text):
        weather = [tool for tool in prompt.tools if "weather" in tool.name.lower()]
        return (weather or list(prompt.tools))[0]
    return None


def example_input(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A deterministic argument object for a JSON schema's (required) properties."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    required = schema.get("required")
    names = [n for n in required if n in properties] if isinstance(required, list) else []
    return {name: _example(name, properties[name]) for name in names or properties}


def _example(name: str, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "example"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return example_input(schema)
    return "San Francisco, CA" if name in ("location", "city", "place") else f"example {name}"


def _words(sentence: str, count: int) -> list[str]:
    vocabulary = sentence.split()
    return [("" if i == 0 else " ") + vocabulary[i % len(vocabulary)] for i in range(count)]


def _split(text: str, parts: int) -> list[str]:
    size = -(-len(text) // parts)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _cut(kind: Literal["thinking", "text", "tool_use"], units: list[str], chunk: int) -> Block:
    if chunk == 1:
        return Block(kind=kind, deltas=tuple(units), delta_tokens=(1,) * len(units))
    deltas = tuple("".join(units[i : i + chunk]) for i in range(0, len(units), chunk))
    sizes = tuple(min(chunk, len(units) - i) for i in range(0, len(units), chunk))
    return Block(kind=kind, deltas=deltas, delta_tokens=sizes)


def plan_completion(
    prompt: Prompt, knobs: Knobs, total_input_tokens: int, cache: CacheUsage
) -> Completion:
    """Decide the answer for `prompt`: thinking, then text, then a tool call, as asked.

    Output tokens are `knobs.output_tokens` (capped by max_tokens → stop_reason max_tokens),
    split as: thinking max(1, n//4), tool input JSON one token per 8 chars (leaving at least
    one token of text), the rest text words.
    """
    n, capped = knobs.output_tokens, False
    if prompt.max_tokens is not None and prompt.max_tokens < n:
        n, capped = prompt.max_tokens, True
    tool = None if capped else choose_tool(prompt)
    thinking_tokens = max(1, n // 4) if prompt.thinking else 0
    blocks: list[Block] = []
    if thinking_tokens:
        thinking = _cut("thinking", _words(_THINKING, thinking_tokens), knobs.chunk_tokens)
        digest = hashlib.sha256(thinking.text.encode()).digest()
        blocks.append(attrs.evolve(thinking, signature=base64.b64encode(digest * 3).decode()))
    tool_block = None
    if tool is not None:
        arguments = example_input(tool.schema)
        encoded = json.dumps(arguments)
        available = n - thinking_tokens - 1
        units = _split(encoded, max(1, min(-(-len(encoded) // _JSON_CHARS_PER_TOKEN), available)))
        tool_block = attrs.evolve(
            _cut("tool_use", units, knobs.chunk_tokens),
            tool_id=f"toolu_bdrk_{uuid.uuid4().hex[:24]}",
            tool_name=tool.name,
            tool_input=arguments,
        )
    text_tokens = max(0, n - thinking_tokens - sum(tool_block.delta_tokens if tool_block else ()))
    if text_tokens:
        blocks.append(_cut("text", _words(_TEXT, text_tokens), knobs.chunk_tokens))
    if tool_block is not None:
        blocks.append(tool_block)
    stop_reason = "tool_use" if tool else "max_tokens" if capped else "end_turn"
    output_tokens = sum(sum(block.delta_tokens) for block in blocks)
    uncached = total_input_tokens - cache.read - cache.write
    usage = Usage(uncached, output_tokens, cache.read, cache.write)
    return Completion(tuple(blocks), stop_reason, usage)
