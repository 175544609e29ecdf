"""Bedrock invoke-stream chunks → Anthropic SSE events, with byte fixtures."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.anthropic import PING, SseTranslator, error_event, sse_event
from proxy.eventstream import exception_frame, invoke_chunk_frame
from proxy.usage_tap import StreamTap


def parse_sse(data: bytes) -> list[tuple[str, Any]]:
    """A strict reader: every event is `event:` + one `data:` line + a blank line."""
    events = []
    assert data.endswith(b"\n\n")
    for block in data[:-2].split(b"\n\n"):
        event_line, data_line = block.split(b"\n")
        assert event_line.startswith(b"event: ") and data_line.startswith(b"data: ")
        events.append((event_line[7:].decode(), json.loads(data_line[6:])))
    return events


def through(events: list[bytes], model: str = "asked-name") -> bytes:
    tap, translator = StreamTap(converse=False), SseTranslator(model)
    out = []
    for raw in events:
        chunk = tap.frame(invoke_chunk_frame(raw))
        assert chunk is not None
        out.append(translator.translate(chunk))
    return b"".join(out)


def test_events_pass_byte_for_byte() -> None:
    delta = (
        b'{"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi \\u00e9"}}'
    )
    spaced = b'{"type": "content_block_stop", "index": 0}'
    assert through([delta, spaced]) == (
        b"event: content_block_delta\ndata: " + delta + b"\n\n"
        b"event: content_block_stop\ndata: " + spaced + b"\n\n"
    )


def test_message_start_reports_the_asked_model_and_message_stop_loses_the_metrics() -> None:
    start = {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "claude-opus-5-5", "usage": {"input_tokens": 3}},
    }
    stop = {
        "type": "message_stop",
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": 3, "outputTokenCount": 5},
    }
    events = parse_sse(through([json.dumps(start).encode(), json.dumps(stop).encode()], "alias"))
    assert events == [
        ("message_start", {**start, "message": {**start["message"], "model": "alias"}}),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_unknown_event_types_and_odd_names_pass_through() -> None:
    raw = [b'{"type":"brand_new_event","x":1}', b'{"type":"bad name\\nevent: x","y":2}', b"{}"]
    events = parse_sse(through(raw))
    assert events == [
        ("brand_new_event", {"type": "brand_new_event", "x": 1}),
        ("bad_name_event:_x", {"type": "bad name\nevent: x", "y": 2}),
        ("unknown", {}),
    ]


def test_multi_line_json_is_compacted_into_one_data_line() -> None:
    pretty = json.dumps({"type": "ping", "note": "a\nb"}, indent=2).encode()
    assert parse_sse(through([pretty])) == [("ping", {"type": "ping", "note": "a\nb"})]


def test_exception_frames_are_left_to_the_caller() -> None:
    tap = StreamTap(converse=False)
    assert tap.frame(exception_frame("throttlingException", "Slow down.")) is None
    assert (tap.usage.error_type, tap.usage.error_message) == ("throttlingException", "Slow down.")
    assert parse_sse(error_event("rate_limit_error", "Slow down.")) == [
        ("error", {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down."}})
    ]


def test_ping_is_anthropics() -> None:
    assert parse_sse(PING) == [("ping", {"type": "ping"})]
    assert sse_event(b"x", b"{}") == b"event: x\ndata: {}\n\n"


json_scalars = st.none() | st.booleans() | st.integers() | st.text()
json_objects = st.dictionaries(
    st.text(max_size=10),
    st.recursive(
        json_scalars,
        lambda i: st.lists(i, max_size=3) | st.dictionaries(st.text(max_size=5), i, max_size=3),
        max_leaves=8,
    ),
    max_size=5,
)


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["content_block_delta", "message_delta", "x.y", "é"]),
            json_objects,
            st.booleans(),
        ),
        max_size=8,
    )
)
def test_any_event_survives_as_one_well_formed_sse_event(
    items: list[tuple[str, dict[str, Any], bool]],
) -> None:
    raws, expected = [], []
    for kind, fields, pretty in items:
        event = {**fields, "type": kind}
        raws.append(json.dumps(event, indent=1 if pretty else None, ensure_ascii=False).encode())
        expected.append(event)
    if not raws:
        return
    events = parse_sse(through(raws))
    assert [data for _, data in events] == expected
    for name, data in events:
        assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", name)
        if re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", data["type"]):
            assert name == data["type"]
