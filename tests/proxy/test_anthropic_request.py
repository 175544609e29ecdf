"""Anthropic Messages requests → InvokeModel bodies, and answers back."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.anthropic import (
    AnthropicError,
    count_tokens_answer,
    count_tokens_body,
    invoke_body,
    message_with_model,
    parse_messages_request,
)

MESSAGES = [{"role": "user", "content": "Hello"}]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
extra_fields = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(
        lambda k: (
            k
            not in {
                "model",
                "messages",
                "max_tokens",
                "stream",
                "anthropic_beta",
                "anthropic_version",
            }
        )
    ),
    json_values,
    max_size=6,
)


def raw(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def request(**extra: Any) -> bytes:
    return raw(model="claude-opus-5-5", max_tokens=64, messages=MESSAGES, **extra)


@given(extra_fields, st.booleans())
def test_every_other_field_passes_through_unchanged(extra: dict[str, Any], stream: bool) -> None:
    parsed = parse_messages_request(request(stream=stream, **extra))
    body = json.loads(invoke_body(parsed, []))
    assert body == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "messages": MESSAGES,
        **extra,
    }
    assert parsed.stream is stream


def test_system_blocks_with_cache_control_and_tools_stay_intact() -> None:
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    tools = [
        {"name": "get_weather", "input_schema": {"type": "object"}, "defer_loading": True},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "computer_20250124", "name": "computer", "display_width_px": 1024},
    ]
    extra = {
        "system": system,
        "tools": tools,
        "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "metadata": {"user_id": "u-1"},
        "stop_sequences": ["\n\nHuman:"],
        "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
        "temperature": 0.5,
    }
    body = json.loads(invoke_body(parse_messages_request(request(**extra)), ["a-1"]))
    for key, value in extra.items():
        assert body[key] == value
    assert body["anthropic_beta"] == ["a-1"]
    assert "model" not in body and "stream" not in body


def test_unicode_survives_byte_for_byte() -> None:
    messages = [{"role": "user", "content": "naïve café — 日本語 \u2028 emoji 🎉"}]
    parsed = parse_messages_request(raw(model="m", max_tokens=1, messages=messages))
    assert json.loads(invoke_body(parsed, []))["messages"] == messages


def test_client_anthropic_version_and_body_betas_are_replaced() -> None:
    parsed = parse_messages_request(
        request(anthropic_version="2023-06-01", anthropic_beta=["x-1", "y-2"])
    )
    assert parsed.body_betas == ("x-1", "y-2")
    body = json.loads(invoke_body(parsed, []))
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert "anthropic_beta" not in body  # nothing passed the policy: the key is left out


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "The request body is not valid JSON"),
        (b"\xff\xfe\xfd", "not valid"),
        (b"[1, 2]", "must be a JSON object"),
        (raw(max_tokens=5, messages=MESSAGES), "model: Field required"),
        (raw(model=5, max_tokens=5, messages=MESSAGES), "model: Input should be"),
        (raw(model=" ", max_tokens=5, messages=MESSAGES), "model: Input should be"),
        (raw(model="m" * 300, max_tokens=5, messages=MESSAGES), "at most 256"),
        (raw(model="m", max_tokens=5), "messages: Field required"),
        (raw(model="m", max_tokens=5, messages="hi"), "messages: Input should be a valid list"),
        (raw(model="m", max_tokens=5, messages=[]), "at least one message"),
        (raw(model="m", messages=MESSAGES), "max_tokens: Field required"),
        (raw(model="m", max_tokens="5", messages=MESSAGES), "valid integer"),
        (raw(model="m", max_tokens=True, messages=MESSAGES), "valid integer"),
        (raw(model="m", max_tokens=0, messages=MESSAGES), "greater than or equal to 1"),
        (raw(model="m", max_tokens=1, messages=MESSAGES, stream="yes"), "valid boolean"),
        (raw(model="m", max_tokens=1, messages=MESSAGES, anthropic_beta=[1]), "anthropic_beta"),
    ],
)
def test_bad_requests_get_anthropic_worded_400s(payload: bytes, message: str) -> None:
    with pytest.raises(AnthropicError) as caught:
        parse_messages_request(payload)
    assert caught.value.status == 400
    assert caught.value.error_type == "invalid_request_error"
    assert message in caught.value.message


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_a_400(payload: bytes) -> None:
    try:
        parse_messages_request(payload)
    except AnthropicError as exc:
        status = exc.status
    else:
        status = 200
    assert status in (200, 400)


def test_count_tokens_needs_no_max_tokens_and_wraps_the_invoke_body() -> None:
    parsed = parse_messages_request(
        raw(model="m", messages=MESSAGES, system="Be brief.", tools=[{"name": "t"}]),
        count_tokens=True,
    )
    outer = json.loads(count_tokens_body(parsed, ["b-1"]))
    inner = json.loads(base64.b64decode(outer["input"]["invokeModel"]["body"]))
    assert inner == {
        "anthropic_version": "bedrock-2023-05-31",
        "messages": MESSAGES,
        "system": "Be brief.",
        "tools": [{"name": "t"}],
        "max_tokens": 1,
        "anthropic_beta": ["b-1"],
    }


def test_count_tokens_answer() -> None:
    assert json.loads(count_tokens_answer(b'{"inputTokens": 42}') or b"") == {"input_tokens": 42}
    for bad in (b"", b"[]", b'{"inputTokens": -1}', b'{"inputTokens": "4"}', b"{}"):
        assert count_tokens_answer(bad) is None


def test_the_answer_reports_the_model_the_client_asked_for() -> None:
    answer = {"id": "msg_1", "type": "message", "model": "claude-opus-5-5", "content": []}
    out = json.loads(message_with_model(json.dumps(answer).encode(), "my-alias"))
    assert out == {**answer, "model": "my-alias"}
    assert message_with_model(b"not json", "x") == b"not json"
