"""`/anthropic/v1/...` with the official anthropic SDK 2.x (Bearer) and a pinned 0.x
(x-api-key), against a running proxy in front of the emulator."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import boto3
import pytest
import trio

from proxy.config import AnthropicConfig, AwsConfig, ModelDiscoveryConfig
from tests.harness import RunningProxy, start_proxy
from tests.web.bedrock_stub import run_stub

ALIAS = "claude-sonnet-4-5"  # an alias: answers must report it, not the dated name
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a place.",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}
ROOT = Path(__file__).resolve().parents[2]
OLD_SDK_PYTHON = ROOT / ".venv-anthropic0" / "bin" / "python"


def directive(**knobs: Any) -> str:
    return f"[[emulator {json.dumps(knobs)}]]"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    with start_proxy(tmp_path_factory.mktemp("anthropic-sdk")) as running:
        yield running


@pytest.fixture
async def key(proxy: RunningProxy) -> str:
    return (await proxy.user_with_key())[1]


def sdk(proxy: RunningProxy, key: str, **options: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=key, base_url=f"{proxy.url}/anthropic", max_retries=0, **options
    )


async def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs))


def emulator_stream(
    proxy: RunningProxy, model_id: str, body: dict[str, Any]
) -> list[dict[str, Any]]:
    """The same request sent straight to the emulator: its events, in order."""
    client = boto3.client("bedrock-runtime", **proxy.emulator.client_kwargs())
    native = {"anthropic_version": "bedrock-2023-05-31", **body}
    response = client.invoke_model_with_response_stream(modelId=model_id, body=json.dumps(native))
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


def normalised(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events with the per-call random ids blanked and Bedrock's metrics removed."""
    out = []
    for event in events:
        event = json.loads(json.dumps(event))
        if event["type"] == "message_start":
            event["message"]["id"] = "msg"
            event["message"]["model"] = "model"
        if event["type"] == "content_block_start" and "id" in event["content_block"]:
            event["content_block"]["id"] = "tool"
        event.pop("amazon-bedrock-invocationMetrics", None)
        out.append(event)
    return out


def accumulate(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Content blocks rebuilt from raw events (the emulator side of the comparison)."""
    blocks: list[dict[str, Any]] = []
    partial_json: dict[int, str] = {}
    for event in events:
        if event["type"] == "content_block_start":
            blocks.append(dict(event["content_block"]))
        elif event["type"] == "content_block_delta":
            block, delta = blocks[event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial_json[event["index"]] = (
                    partial_json.get(event["index"], "") + delta["partial_json"]
                )
    for index, text in partial_json.items():
        blocks[index]["input"] = json.loads(text)
    for block in blocks:
        block.pop("id", None)
    return blocks


def sdk_blocks(message: Any) -> list[dict[str, Any]]:
    out = []
    for block in message.content:
        data = {
            k: v
            for k, v in block.to_dict().items()
            if k in ("type", "text", "thinking", "signature", "name", "input")
        }
        out.append(data)
    return out


async def usage_row(proxy: RunningProxy, request_id: str) -> dict[str, Any]:
    rows = await proxy.usage_rows(request_id=request_id)
    assert len(rows) == 1, rows  # exactly one usage event per request
    return rows[0]


# --- SDK 2.x ----------------------------------------------------------------------------


async def test_create_passes_system_blocks_and_meters_cache_tokens_exactly(
    proxy: RunningProxy, key: str
) -> None:
    client = sdk(proxy, key)
    system = [
        {"type": "text", "text": "You are terse. " * 20, "cache_control": {"type": "ephemeral"}}
    ]
    kwargs: dict[str, Any] = {
        "model": ALIAS,
        "max_tokens": 64,
        "system": system,
        "messages": [{"role": "user", "content": "Hello there"}],
        "metadata": {"user_id": "u-42"},
    }
    first = await run(client.messages.with_raw_response.create, **kwargs)
    second = await run(client.messages.with_raw_response.create, **kwargs)
    upstream = proxy.emulator_requests()[-1]
    for raw in (first, second):
        message = raw.parse()
        assert message.model == ALIAS
        assert raw.headers["request-id"] == raw.headers["x-request-id"]
        row = await usage_row(proxy, raw.headers["request-id"])
        usage = message.usage
        assert (row["input_tokens"], row["output_tokens"]) == (
            usage.input_tokens,
            usage.output_tokens,
        )
        assert row["cache_read_tokens"] == usage.cache_read_input_tokens
        assert row["cache_write_5m_tokens"] + row["cache_write_1h_tokens"] == (
            usage.cache_creation_input_tokens
        )
        assert (row["route"], row["model_name"], row["streaming"]) == (
            "anthropic.messages",
            ALIAS,
            False,
        )
        assert row["model_id"] == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert first.parse().usage.cache_creation_input_tokens > 0
    assert second.parse().usage.cache_read_input_tokens > 0
    # what Bedrock received: the native body, system blocks intact, no client credentials
    sent = json.loads(upstream.body)
    assert sent["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in sent and "stream" not in sent
    assert sent["system"] == system and sent["metadata"] == {"user_id": "u-42"}
    headers = dict(upstream.headers)
    assert key not in json.dumps(headers)
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEMULATOR")
    assert not {"x-api-key", "anthropic-version", "anthropic-beta"} & set(headers)
    assert upstream.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"


async def test_every_streamed_event_reaches_the_sdk_in_order(proxy: RunningProxy, key: str) -> None:
    client = sdk(proxy, key)
    body = {
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "Tell me a story " + directive(output_tokens=40)}],
    }
    expected = await run(emulator_stream, proxy, "us.anthropic.claude-opus-5-5", body)
    stream = await run(client.messages.create, model="claude-opus-5-5", stream=True, **body)
    received = await run(lambda: [event.to_dict() for event in stream])
    assert normalised(received) == normalised(expected)
    assert received[0]["message"]["model"] == "claude-opus-5-5"
    assert received[-1] == {"type": "message_stop"}  # Bedrock's metrics removed


async def test_stream_text_tool_use_and_thinking_reconstruct_the_emulators_message(
    proxy: RunningProxy, key: str
) -> None:
    client = sdk(proxy, key)
    body = {
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [WEATHER_TOOL],
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
    }
    expected = await run(emulator_stream, proxy, "us.anthropic.claude-opus-4-6-v1", body)

    def consume() -> tuple[list[str], Any]:
        with client.messages.stream(model="claude-opus-4-6", **body) as stream:
            kinds = [event.delta.type for event in stream if event.type == "content_block_delta"]
            return kinds, stream.get_final_message()

    kinds, final = await run(consume)
    assert {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"} <= set(kinds)
    assert kinds.count("input_json_delta") > 1  # the tool input arrives in pieces
    assert sdk_blocks(final) == accumulate(expected)
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[2].input == {"location": "San Francisco, CA"}
    assert final.stop_reason == "tool_use" and final.model == "claude-opus-4-6"
    stop = next(e for e in expected if e["type"] == "message_delta")
    assert final.usage.output_tokens == stop["usage"]["output_tokens"]


async def test_streaming_usage_row_matches_the_emulators_counts(
    proxy: RunningProxy, key: str
) -> None:
    client = sdk(proxy, key)
    system = [
        {"type": "text", "text": "Stream cache " * 30, "cache_control": {"type": "ephemeral"}}
    ]

    def consume() -> tuple[Any, str]:
        with client.messages.stream(
            model=ALIAS,
            max_tokens=64,
            system=system,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-claude-code-session-id": "session-123"},
        ) as stream:
            return stream.get_final_message(), stream.response.headers["request-id"]

    for _ in range(2):  # the second call reads what the first wrote
        final, rid = await run(consume)
        row = await usage_row(proxy, rid)
        usage = final.usage
        assert (row["input_tokens"], row["output_tokens"]) == (
            usage.input_tokens,
            usage.output_tokens,
        )
        assert row["cache_read_tokens"] == usage.cache_read_input_tokens
        assert row["cache_write_5m_tokens"] == usage.cache_creation_input_tokens
        assert (row["streaming"], row["partial"], row["success"]) == (True, False, True)
        assert row["client_session_id"] == "session-123"
        assert row["route"] == "anthropic.messages_stream"
    assert usage.cache_read_input_tokens > 0


async def test_count_tokens_counts_system_and_tools(proxy: RunningProxy, key: str) -> None:
    client = sdk(proxy, key)
    messages = [{"role": "user", "content": "How many tokens is this?"}]
    plain = await run(client.messages.count_tokens, model=ALIAS, messages=messages)
    created = await run(client.messages.create, model=ALIAS, max_tokens=8, messages=messages)
    assert plain.input_tokens == created.usage.input_tokens  # the same count Bedrock bills
    richer = await run(
        client.messages.count_tokens,
        model=ALIAS,
        messages=messages,
        system="Be kind.",
        tools=[WEATHER_TOOL],
    )
    assert richer.input_tokens > plain.input_tokens
    upstream = proxy.emulator_requests()[-1]
    # CountTokens gets the foundation model (counting does not depend on where calls run)
    assert upstream.path == "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens"


async def test_count_tokens_for_a_model_bedrock_cannot_count(proxy: RunningProxy, key: str) -> None:
    client = sdk(proxy, key)
    with pytest.raises(anthropic.BadRequestError) as caught:
        await run(
            client.messages.count_tokens,
            model="amazon.nova-pro-v1:0",
            messages=[{"role": "user", "content": "hi"}],
        )
    assert caught.value.body["error"]["message"] == (  # type: ignore[index]
        "The provided model doesn't support counting tokens."
    )


async def test_models_list_and_retrieve(proxy: RunningProxy, key: str) -> None:
    client = sdk(proxy, key)
    names = [m.name for m in proxy.services.models.catalog.list_models()]
    listed = await run(lambda: [m.id for m in client.models.list(limit=7)])  # pages of 7
    assert listed == names
    page = await run(client.models.list, limit=2)
    assert [m.id for m in page.data] == names[:2] and page.has_more
    model = await run(client.models.retrieve, ALIAS)
    assert (model.id, model.display_name, model.type) == (
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "model",
    )
    assert model.created_at.year == 2025


async def test_typed_sdk_exceptions(proxy: RunningProxy, key: str) -> None:
    with pytest.raises(anthropic.AuthenticationError) as auth:
        await run(sdk(proxy, "SSOK_not_a_real_key").models.list)
    assert auth.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    client = sdk(proxy, key)
    user = {"role": "user", "content": ""}
    with pytest.raises(anthropic.NotFoundError) as missing:
        await run(client.messages.create, model="claude-9000", max_tokens=5, messages=[user])
    assert missing.value.message.endswith(
        f"'message': 'model: claude-9000'}}, 'request_id': '{missing.value.request_id}'}}"
    )
    cases = [
        (directive(fault="throttle"), anthropic.RateLimitError, 429),
        (directive(fault="server_error"), anthropic.InternalServerError, 500),
        (directive(fault="overloaded"), anthropic.OverloadedError, 529),
    ]
    for text, error, status in cases:
        with pytest.raises(error) as caught:
            await run(
                client.messages.create,
                model=ALIAS,
                max_tokens=5,
                messages=[{"role": "user", "content": text}],
            )
        assert caught.value.status_code == status
        assert caught.value.response.headers.get("retry-after") is None  # Bedrock gave none


@pytest.fixture(scope="module")
def stubbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    """A proxy whose Bedrock is the scripted stub (errors the emulator cannot make)."""
    with (
        run_stub() as stub_url,
        start_proxy(
            tmp_path_factory.mktemp("stub"),
            aws=AwsConfig(endpoint_url=stub_url, access_key_id="AKIDSTUB", secret_access_key="x"),
            anthropic=AnthropicConfig(discovery=ModelDiscoveryConfig(enabled=False)),
        ) as running,
    ):
        yield running


async def test_rate_limit_keeps_bedrocks_retry_after(stubbed: RunningProxy) -> None:
    client = sdk(stubbed, (await stubbed.user_with_key())[1])
    with pytest.raises(anthropic.RateLimitError) as caught:
        await run(
            client.messages.create,
            model=ALIAS,
            max_tokens=5,
            messages=[{"role": "user", "content": "stub:throttle"}],
        )
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.body["error"]["message"] == "Too many tokens, please wait."  # type: ignore[index]
    with pytest.raises(anthropic.PermissionDeniedError):
        await run(
            client.messages.create,
            model=ALIAS,
            max_tokens=5,
            stream=True,  # an HTTP error before the stream: a typed exception too
            messages=[{"role": "user", "content": "stub:access"}],
        )


async def test_mid_stream_exception_reaches_the_sdk_as_an_error_event(
    proxy: RunningProxy, key: str
) -> None:
    client = sdk(proxy, key)
    text = "hi " + directive(
        fault="mid_stream_exception", fault_after_events=3, exception_type="throttlingException"
    )

    def consume() -> None:
        with client.messages.stream(
            model=ALIAS, max_tokens=64, messages=[{"role": "user", "content": text}]
        ) as stream:
            for _ in stream:
                pass

    with pytest.raises(anthropic.APIStatusError) as caught:
        await run(consume)
    assert caught.value.body["error"] == {  # type: ignore[index]
        "type": "rate_limit_error",
        "message": "Too many requests, please wait before trying again.",
    }


# --- SDK 0.x (x-api-key) ----------------------------------------------------------------


def old_sdk_python() -> Path:
    if OLD_SDK_PYTHON.exists():
        return OLD_SDK_PYTHON
    message = (
        f"{OLD_SDK_PYTHON} is missing: create it with ops/test.sh (step '.venv-anthropic0'), "
        "or: python3 -m venv .venv-anthropic0 && .venv-anthropic0/bin/pip install "
        "anthropic==0.49.0 httpx==0.27.2"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


async def test_anthropic_sdk_0x_with_x_api_key(proxy: RunningProxy, key: str) -> None:
    python = old_sdk_python()
    script = Path(__file__).with_name("anthropic0_client.py")

    def call() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), str(script), f"{proxy.url}/anthropic", key],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"},
            check=False,
        )

    done = await trio.to_thread.run_sync(call)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["version"].startswith("0.")
    assert report["sent_x_api_key"] is True
    assert report["create"] == {"model": ALIAS, "has_text": True, "input_tokens": report["count"]}
    assert report["stream_text"]["events"] >= 5 and report["stream_text"]["model"] == ALIAS
    assert report["tool"] == {
        "stop_reason": "tool_use",
        "input": {"location": "San Francisco, CA"},
        "json_deltas": True,
    }
    assert report["thinking"] == {"blocks": ["thinking", "text"], "signed": True}
    assert report["models"][:2] == [m.name for m in proxy.services.models.catalog.list_models()][:2]
    assert report["errors"] == {
        "bad_key": "AuthenticationError",
        "unknown_model": "NotFoundError",
        "throttle": "RateLimitError",
        "server_error": "InternalServerError",
    }
    # a 0.x client sends x-api-key (not Bearer): the same user's key was accepted
    rows = await proxy.usage_rows(model_name=ALIAS, route="anthropic.messages")
    assert rows
