"""Server-sent events in Anthropic's streaming format, from Bedrock's invoke-stream chunks.

Each chunk's event JSON goes out byte for byte as `event: <type>` / `data: <json>`, with two
exceptions that are re-serialised: `message_start` (its `message.model` becomes the name the
client asked for) and `message_stop` (Bedrock's `amazon-bedrock-invocationMetrics` removed).
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from proxy.usage_tap import METRICS_KEY, ChunkEvent

SSE_CONTENT_TYPE = b"text/event-stream; charset=utf-8"
PING = b'event: ping\ndata: {"type": "ping"}\n\n'
_EVENT_NAME = re.compile(rb"[A-Za-z0-9_.:-]{1,64}")
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def sse_event(event_type: bytes, data: bytes) -> bytes:
    """One SSE event; `data` must be a single line (compact JSON is)."""
    return b"event: %s\ndata: %s\n\n" % (event_type, data)


def error_event(error_type: str, message: str) -> bytes:
    """Anthropic's mid-stream `error` event."""
    data = {"type": "error", "error": {"type": error_type, "message": message}}
    return sse_event(b"error", _encode(data).encode())


def _event_name(kind: str) -> bytes:
    name = kind.encode("utf-8", "replace")
    if _EVENT_NAME.fullmatch(name):
        return name
    # an odd type must not break the framing: keep only what an SSE field line may carry
    cleaned = re.sub(rb"[^A-Za-z0-9_.:-]", b"_", name)[:64]
    return cleaned or b"unknown"


def _single_line(data: bytes, event: dict[str, Any]) -> bytes:
    # JSON strings cannot hold raw newlines, so only pretty-printing whitespace can; a
    # multi-line payload would split into several SSE data lines, so it is compacted
    if b"\n" in data or b"\r" in data:
        return _encode(event).encode()
    return data


@attrs.define
class SseTranslator:
    """Turns each Bedrock chunk event into the SSE bytes the client receives."""

    model: str
    events: int = 0

    def translate(self, chunk: ChunkEvent) -> bytes:
        """The SSE event for one chunk (unknown event types pass through)."""
        self.events += 1
        event = chunk.event
        kind = chunk.type
        if kind == "message_start" and isinstance(event.get("message"), dict):
            message = dict(event["message"])
            message["model"] = self.model
            data = _encode({**event, "message": message}).encode()
        elif kind == "message_stop" and METRICS_KEY in event:
            data = _encode({k: v for k, v in event.items() if k != METRICS_KEY}).encode()
        else:
            data = _single_line(chunk.data, event)
        return sse_event(_event_name(kind or "unknown"), data)
