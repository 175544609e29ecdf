"""The usage tap: tokens, stop reasons and errors read off frames and bodies."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from proxy.eventstream import converse_event_frame, exception_frame, invoke_chunk_frame
from proxy.usage_tap import StreamTap, usage_from_body


def chunk(event: dict[str, object]) -> bytes:
    return invoke_chunk_frame(json.dumps(event).encode())


def anthropic_stream(
    input_tokens: int, output: int, cache_read: int, cache_write: int
) -> list[bytes]:
    return [
        chunk(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "usage": {
                        "input_tokens": input_tokens,
                        "output_tokens": 1,
                        "cache_read_input_tokens": cache_read,
                        "cache_creation_input_tokens": cache_write,
                    },
                },
            }
        ),
        chunk(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        ),
        chunk(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "hi"},
            }
        ),
        chunk({"type": "content_block_stop", "index": 0}),
        chunk(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": output},
            }
        ),
        chunk(
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": input_tokens,
                    "outputTokenCount": output,
                    "invocationLatency": 120,
                    "firstByteLatency": 30,
                    "cacheReadInputTokenCount": cache_read,
                    "cacheWriteInputTokenCount": cache_write,
                },
            }
        ),
    ]


@given(st.integers(0, 10**6), st.integers(1, 10**5), st.integers(0, 10**6), st.integers(0, 10**6))
def test_invoke_stream_usage_matches_the_metrics(inp: int, out: int, read: int, write: int) -> None:
    tap = StreamTap(converse=False)
    for frame in anthropic_stream(inp, out, read, write):
        tap.frame(frame)
    u = tap.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_5m_tokens) == (
        inp,
        out,
        read,
        write,
    )
    assert u.cache_write_1h_tokens == 0
    assert u.stop_reason == "end_turn"
    assert u.complete
    assert u.error_type is None


def test_usage_so_far_without_the_final_metrics_is_incomplete() -> None:
    tap = StreamTap(converse=False)
    for frame in anthropic_stream(100, 50, 0, 0)[:5]:
        tap.frame(frame)
    assert (tap.usage.input_tokens, tap.usage.output_tokens) == (100, 50)
    assert not tap.usage.complete


def test_one_hour_cache_writes_are_split_out() -> None:
    tap = StreamTap(converse=False)
    tap.frame(
        chunk(
            {
                "type": "message_start",
                "message": {
                    "usage": {
                        "input_tokens": 5,
                        "cache_creation_input_tokens": 300,
                        "cache_creation": {
                            "ephemeral_5m_input_tokens": 100,
                            "ephemeral_1h_input_tokens": 200,
                        },
                    }
                },
            }
        )
    )
    tap.frame(
        chunk(
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {"cacheWriteInputTokenCount": 300},
            }
        )
    )
    assert (tap.usage.cache_write_5m_tokens, tap.usage.cache_write_1h_tokens) == (100, 200)


def test_exception_frames_mark_the_call_failed() -> None:
    tap = StreamTap(converse=False)
    tap.frame(anthropic_stream(10, 5, 0, 0)[0])
    tap.frame(exception_frame("modelStreamErrorException", "The model stopped"))
    assert tap.usage.error_type == "modelStreamErrorException"
    assert tap.usage.error_message == "The model stopped"
    assert tap.usage.input_tokens == 10


def test_converse_stream_metadata() -> None:
    tap = StreamTap(converse=True)
    tap.frame(converse_event_frame("messageStart", {"role": "assistant"}))
    tap.frame(
        converse_event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}})
    )
    tap.frame(converse_event_frame("messageStop", {"stopReason": "max_tokens"}))
    tap.frame(
        converse_event_frame(
            "metadata",
            {
                "usage": {
                    "inputTokens": 7,
                    "outputTokens": 9,
                    "totalTokens": 16,
                    "cacheReadInputTokens": 3,
                    "cacheWriteInputTokens": 4,
                },
                "metrics": {"latencyMs": 10},
            },
        )
    )
    u = tap.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_5m_tokens) == (
        7,
        9,
        3,
        4,
    )
    assert u.stop_reason == "max_tokens"
    assert u.complete


def test_non_streaming_bodies_and_headers() -> None:
    body = json.dumps(
        {
            "type": "message",
            "stop_reason": "tool_use",
            "usage": {
                "input_tokens": 11,
                "output_tokens": 22,
                "cache_read_input_tokens": 33,
                "cache_creation_input_tokens": 44,
            },
        }
    ).encode()
    u = usage_from_body(body, {}, converse=False)
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_5m_tokens) == (
        11,
        22,
        33,
        44,
    )
    assert u.stop_reason == "tool_use"
    # a model whose body carries no usage: the x-amzn-bedrock-*-token-count headers
    headers = {
        "x-amzn-bedrock-input-token-count": "5",
        "x-amzn-bedrock-output-token-count": "6",
        "x-amzn-bedrock-cache-read-input-token-count": "1",
        "x-amzn-bedrock-cache-write-input-token-count": "2",
    }
    u2 = usage_from_body(b'{"generation": "x"}', headers, converse=False)
    assert (u2.input_tokens, u2.output_tokens, u2.cache_read_tokens, u2.cache_write_5m_tokens) == (
        5,
        6,
        1,
        2,
    )
    converse = json.dumps(
        {"stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}
    ).encode()
    u3 = usage_from_body(converse, {}, converse=True)
    assert (u3.input_tokens, u3.output_tokens, u3.stop_reason) == (1, 2, "end_turn")


def test_garbage_never_raises() -> None:
    tap = StreamTap(converse=False)
    assert tap.frame(b"\x00" * 20) is None
    assert tap.usage.error_type == "eventStreamError"
    assert usage_from_body(b"\xff\xfe", {}, converse=False).input_tokens == 0
