"""Deterministic input-token counting and prompt-cache accounting for both request formats.

A prompt is a sequence of segments in Anthropic's cache order (tools, system, messages); a
segment's size is the UTF-8 length of every string in it except `type`, `cache_control` and
`cachePoint` values. Tokens = ceil(bytes / 4) + 3.
Segments marked `cache_control` (Anthropic) or followed by a `cachePoint` (Converse) end a
cacheable prefix.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import attrs

BYTES_PER_TOKEN = 4
BASE_INPUT_TOKENS = 3
# Markers, not content: a string prompt and its [{"type": "text", ...}] form count the same.
_NOT_CONTENT = frozenset({"cache_control", "cachePoint", "type"})


@attrs.define
class Segment:
    """One tool definition, system block or message content block."""

    value: Any
    size: int
    breakpoint: bool = False


@attrs.frozen
class CacheUsage:
    """Input tokens read from and written to the prompt cache by one request."""

    read: int = 0
    write: int = 0


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, dict):
        return sum(_size(item) for key, item in value.items() if key not in _NOT_CONTENT)
    if isinstance(value, list):
        return sum(_size(item) for item in value)
    return 0


def _tokens(size: int) -> int:
    return -(-size // BYTES_PER_TOKEN)


def _blocks(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def anthropic_segments(body: dict[str, Any]) -> list[Segment]:
    """Segments of an Anthropic Messages body; `cache_control` on a block marks a breakpoint."""
    segments = []
    messages = body.get("messages")
    contents = [m.get("content") for m in _blocks(messages) if isinstance(m, dict)]
    for group in (body.get("tools"), body.get("system"), *contents):
        for block in _blocks(group):
            marked = isinstance(block, dict) and "cache_control" in block
            segments.append(Segment(block, _size(block), marked))
    return segments


def converse_segments(body: dict[str, Any]) -> list[Segment]:
    """Segments of a Converse body; a `cachePoint` block marks the segment before it."""
    segments: list[Segment] = []
    tool_config = body.get("toolConfig")
    tools = tool_config.get("tools") if isinstance(tool_config, dict) else None
    messages = body.get("messages")
    contents = [m.get("content") for m in _blocks(messages) if isinstance(m, dict)]
    for group in (tools, body.get("system"), *contents):
        for block in _blocks(group):
            if isinstance(block, dict) and "cachePoint" in block:
                if segments:
                    segments[-1].breakpoint = True
                continue
            segments.append(Segment(block, _size(block)))
    return segments


def count_input_tokens(segments: Iterable[Segment]) -> int:
    """All input tokens of a prompt (what CountTokens reports), cached or not."""
    return _tokens(sum(segment.size for segment in segments)) + BASE_INPUT_TOKENS


class PromptCache:
    """Which cacheable prefixes were seen: the first request writes a prefix, later ones read it.

    Per model; bounded (least recently used prefixes are forgotten); no minimum length, no TTL.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def __repr__(self) -> str:
        return f"<PromptCache prefixes={len(self._seen)} capacity={self._capacity}>"

    def clear(self) -> None:
        """Forget every prefix."""
        self._seen.clear()

    def account(self, model_id: str, segments: list[Segment]) -> CacheUsage:
        """Read the longest prefix seen before; write the rest up to the last breakpoint."""
        if not any(segment.breakpoint for segment in segments):
            return CacheUsage()
        digest = hashlib.sha256(model_id.encode())
        size = 0
        prefixes: list[tuple[bytes, int]] = []
        for segment in segments:
            digest.update(json.dumps(segment.value, sort_keys=True).encode())
            size += segment.size
            if segment.breakpoint:
                prefixes.append((digest.copy().digest(), _tokens(size)))
        read = max((tokens for key, tokens in prefixes if key in self._seen), default=0)
        for key, _ in prefixes:
            self._seen[key] = None
            self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return CacheUsage(read=read, write=prefixes[-1][1] - read)
