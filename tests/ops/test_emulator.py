"""The Bedrock emulator, driven by the official clients (boto3) and by raw signed HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import boto3
import botocore.exceptions
import httpx
import pytest
import trio
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

from ops.emulator import EmulatorConfig, EmulatorHandle, serve_emulator
from ops.emulator.tokens import CacheUsage, PromptCache, anthropic_segments, converse_segments
from proxy.eventstream import FrameSplitter

PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NO_RETRIES = Config(retries={"total_max_attempts": 1})
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["location", "unit"],
    },
}


def anthropic_body(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


@pytest.fixture(scope="session")
def boto_session() -> boto3.Session:
    return boto3.Session()


@pytest.fixture
async def emulator(nursery: trio.Nursery) -> EmulatorHandle:
    handle: EmulatorHandle = await nursery.start(serve_emulator, EmulatorConfig())
    return handle


@pytest.fixture
def runtime(boto_session: boto3.Session, emulator: EmulatorHandle) -> Any:
    return boto_session.client("bedrock-runtime", config=NO_RETRIES, **emulator.client_kwargs())


@pytest.fixture
def control_plane(boto_session: boto3.Session, emulator: EmulatorHandle) -> Any:
    return boto_session.client("bedrock", config=NO_RETRIES, **emulator.client_kwargs())


async def in_thread(fn: Callable[[], Any]) -> Any:
    return await trio.to_thread.run_sync(fn)


async def invoke(runtime: Any, body: Any, model: str = PROFILE) -> dict[str, Any]:
    """InvokeModel in a worker thread, body read there too (reading blocks)."""

    def call() -> dict[str, Any]:
        response = runtime.invoke_model(modelId=model, body=json.dumps(body))
        return {"message": json.loads(response["body"].read()), **response}

    return await in_thread(call)


def signed(
    handle: EmulatorHandle, path: str, body: bytes, *, secret: str | None = None
) -> tuple[str, dict[str, str]]:
    """URL and headers of a POST signed like botocore does (path sent exactly as given)."""
    config = handle.config
    request = AWSRequest(
        "POST", handle.url + path, data=body, headers={"content-type": "application/json"}
    )
    credentials = Credentials(config.access_key_id, secret or config.secret_access_key)
    SigV4Auth(credentials, "bedrock", config.region).add_auth(request)
    return handle.url + path, dict(request.headers.items())


async def post_signed(handle: EmulatorHandle, path: str, body: Any) -> httpx.Response:
    raw = json.dumps(body).encode()
    url, headers = signed(handle, path, raw)
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=raw, headers=headers)


def chunk_events(response_body: bytes) -> list[dict[str, Any]]:
    """Decode an invoke stream with botocore (verifies every CRC) into the Anthropic events."""
    buffer = EventStreamBuffer()
    buffer.add_data(response_body)
    events = []
    for message in buffer:
        assert message.headers[":message-type"] == "event"
        assert message.headers[":event-type"] == "chunk"
        events.append(json.loads(base64.b64decode(json.loads(message.payload)["bytes"])))
    return events


# --- invoke ---------------------------------------------------------------------------------


async def test_invoke_model_with_boto3(runtime: Any) -> None:
    response = await invoke(runtime, anthropic_body())
    message = response["message"]
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert message["id"].startswith("msg_bdrk_")
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["model"] == "claude-sonnet-4-5-20250929"
    assert message["stop_reason"] == "end_turn"
    assert message["stop_sequence"] is None
    assert message["content"][0]["type"] == "text"
    assert len(message["content"][0]["text"].split()) == 16
    usage = message["usage"]
    assert usage == {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 16,
    }
    assert headers["x-amzn-bedrock-input-token-count"] == str(usage["input_tokens"])
    assert headers["x-amzn-bedrock-output-token-count"] == "16"
    assert headers["x-amzn-bedrock-cache-read-input-token-count"] == "0"
    assert headers["x-amzn-bedrock-cache-write-input-token-count"] == "0"
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0
    assert headers["x-amzn-requestid"]


async def test_stream_frames_decode_with_botocore(emulator: EmulatorHandle) -> None:
    path = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
    response = await post_signed(emulator, path, anthropic_body())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert response.headers["x-amzn-bedrock-content-type"] == "application/json"
    events = chunk_events(response.content)
    kinds = [event["type"] for event in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 16,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0]["message"]
    assert start["usage"]["output_tokens"] == 1
    assert start["usage"]["cache_read_input_tokens"] == 0
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-2]["usage"] == {"output_tokens": 16}
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == start["usage"]["input_tokens"]
    assert metrics["outputTokenCount"] == 16
    assert set(metrics) == {
        "inputTokenCount",
        "outputTokenCount",
        "invocationLatency",
        "firstByteLatency",
        "cacheReadInputTokenCount",
        "cacheWriteInputTokenCount",
    }
    splitter = FrameSplitter()
    frames = [
        frame
        for i in range(len(response.content))
        for frame in splitter.feed(response.content[i : i + 1])
    ]
    assert len(frames) == len(events)


async def test_raw_colon_path_as_anthropic_bedrock_sends_it(emulator: EmulatorHandle) -> None:
    response = await post_signed(emulator, f"/model/{PROFILE}/invoke", anthropic_body())
    assert response.status_code == 200, response.text
    assert emulator.state.requests[-1].path == f"/model/{PROFILE}/invoke"


async def test_thinking_and_tool_use_stream_through_boto3(runtime: Any) -> None:
    body = anthropic_body(
        "What is the weather in Paris?",
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=[WEATHER_TOOL],
    )
    response = await in_thread(
        lambda: runtime.invoke_model_with_response_stream(modelId=PROFILE, body=json.dumps(body))
    )
    events = await in_thread(lambda: [json.loads(e["chunk"]["bytes"]) for e in response["body"]])
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [s["type"] for s in starts] == ["thinking", "text", "tool_use"]
    assert starts[2]["name"] == "get_weather"
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    assert {d["type"] for d in deltas} == {
        "thinking_delta",
        "signature_delta",
        "text_delta",
        "input_json_delta",
    }
    partial = "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
    assert json.loads(partial) == {"location": "San Francisco, CA", "unit": "c"}
    final = next(e for e in events if e["type"] == "message_delta")
    assert final["delta"]["stop_reason"] == "tool_use"
    assert final["usage"]["output_tokens"] == 16


async def test_no_tool_call_without_weather_or_forcing(runtime: Any) -> None:
    body = anthropic_body("Tell me a joke", tools=[WEATHER_TOOL])
    assert (await invoke(runtime, body))["message"]["stop_reason"] == "end_turn"
    body["tool_choice"] = {"type": "tool", "name": "get_weather"}
    forced = (await invoke(runtime, body))["message"]
    assert forced["stop_reason"] == "tool_use"
    assert forced["content"][-1]["input"] == {"location": "San Francisco, CA", "unit": "c"}


async def test_max_tokens_caps_the_answer(runtime: Any) -> None:
    message = (await invoke(runtime, anthropic_body(max_tokens=5)))["message"]
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 5


# --- converse and count-tokens ---------------------------------------------------------------


async def test_converse_and_converse_stream(runtime: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "Hello"}]}]
    model = "us.anthropic.claude-opus-5-5"
    response = await in_thread(lambda: runtime.converse(modelId=model, messages=messages))
    assert response["stopReason"] == "end_turn"
    assert response["output"]["message"]["role"] == "assistant"
    usage = response["usage"]
    assert usage["outputTokens"] == 16
    assert usage["totalTokens"] == usage["inputTokens"] + 16
    assert response["metrics"]["latencyMs"] >= 0

    stream = await in_thread(lambda: runtime.converse_stream(modelId=model, messages=messages))
    events = await in_thread(lambda: list(stream["stream"]))
    names = [next(iter(event)) for event in events]
    assert names == [
        "messageStart",
        *["contentBlockDelta"] * 16,
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[-1]["metadata"]["usage"] == usage


async def test_count_tokens_equals_invoke_input_tokens(runtime: Any) -> None:
    body = anthropic_body("Count me, please. " * 20, system="Be brief.", tools=[WEATHER_TOOL])
    invoked = (await invoke(runtime, body))["message"]
    counted = await in_thread(
        lambda: runtime.count_tokens(
            modelId="anthropic.claude-sonnet-4-5-20250929-v1:0",
            input={"invokeModel": {"body": json.dumps(body).encode()}},
        )
    )
    assert counted["inputTokens"] == invoked["usage"]["input_tokens"] > 3

    converse = {"messages": [{"role": "user", "content": [{"text": "Count me. " * 9}]}]}
    conversed = await in_thread(lambda: runtime.converse(modelId=PROFILE, **converse))
    counted = await in_thread(
        lambda: runtime.count_tokens(modelId=PROFILE, input={"converse": converse})
    )
    assert counted["inputTokens"] == conversed["usage"]["inputTokens"]


async def test_prompt_cache_writes_then_reads(runtime: Any) -> None:
    cached = {
        "type": "text",
        "text": "A long system prompt. " * 50,
        "cache_control": {"type": "ephemeral"},
    }
    body = anthropic_body(system=[cached])
    first = (await invoke(runtime, body))["message"]["usage"]
    second = (await invoke(runtime, body))["message"]["usage"]
    assert first["cache_creation_input_tokens"] == second["cache_read_input_tokens"] > 0
    assert first["cache_read_input_tokens"] == second["cache_creation_input_tokens"] == 0
    assert first["input_tokens"] == second["input_tokens"]
    counted = await in_thread(
        lambda: runtime.count_tokens(
            modelId=PROFILE, input={"invokeModel": {"body": json.dumps(body).encode()}}
        )
    )
    assert counted["inputTokens"] == first["input_tokens"] + first["cache_creation_input_tokens"]


def test_prompt_cache_reads_the_longest_known_prefix() -> None:
    marked = {"cache_control": {"type": "ephemeral"}}
    first = {"type": "text", "text": "a" * 400, **marked}
    second = {"type": "text", "text": "b" * 800, **marked}
    cache = PromptCache()
    one = anthropic_body(system=[first])
    two = anthropic_body(system=[first, second])
    assert cache.account("m", anthropic_segments(one)) == CacheUsage(read=0, write=100)
    assert cache.account("m", anthropic_segments(two)) == CacheUsage(read=100, write=200)
    assert cache.account("m", anthropic_segments(two)) == CacheUsage(read=300, write=0)
    assert cache.account("other-model", anthropic_segments(one)) == CacheUsage(read=0, write=100)
    converse = {
        "system": [{"text": "a" * 400}, {"cachePoint": {"type": "default"}}],
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
    }
    segments = converse_segments(converse)
    assert [segment.breakpoint for segment in segments] == [True, False]
    assert cache.account("c", segments) == CacheUsage(read=0, write=100)


async def test_profile_arn_as_model_id(runtime: Any) -> None:
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{PROFILE}"
    response = await invoke(runtime, anthropic_body(), model=arn)
    assert response["message"]["model"] == "claude-sonnet-4-5-20250929"


# --- control plane ---------------------------------------------------------------------------


async def test_list_foundation_models_and_profiles(control_plane: Any) -> None:
    models = (await in_thread(control_plane.list_foundation_models))["modelSummaries"]
    ids = {m["modelId"] for m in models}
    assert {"anthropic.claude-opus-5-5", "anthropic.claude-haiku-4-5-20251001-v1:0"} <= ids
    assert {"amazon.nova-pro-v1:0", "meta.llama3-3-70b-instruct-v1:0"} <= ids
    anthropic = await in_thread(
        lambda: control_plane.list_foundation_models(byProvider="anthropic")
    )
    assert {m["providerName"] for m in anthropic["modelSummaries"]} == {"Anthropic"}
    assert len(anthropic["modelSummaries"]) == 22

    profiles: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"maxResults": 7}
    while True:
        page = await in_thread(lambda: control_plane.list_inference_profiles(**kwargs))
        assert len(page["inferenceProfileSummaries"]) <= 7
        profiles += page["inferenceProfileSummaries"]
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    everything = await in_thread(control_plane.list_inference_profiles)
    assert profiles == everything["inferenceProfileSummaries"]
    profile_ids = {p["inferenceProfileId"] for p in profiles}
    for prefix in ("us", "eu", "apac", "global"):
        assert f"{prefix}.anthropic.claude-opus-5-5" in profile_ids
    assert "us.anthropic.claude-opus-4-6-v1" in profile_ids
    assert profiles[0]["type"] == "SYSTEM_DEFINED"
    assert profiles[0]["models"][0]["modelArn"].startswith("arn:aws:bedrock:")
    application = await in_thread(
        lambda: control_plane.list_inference_profiles(typeEquals="APPLICATION")
    )
    assert application["inferenceProfileSummaries"] == []


async def test_control_endpoint_adds_a_model(
    emulator: EmulatorHandle, control_plane: Any, runtime: Any
) -> None:
    async with httpx.AsyncClient(base_url=emulator.url) as client:
        added = await client.post("/_emulator/models", json={"modelId": "anthropic.claude-nova-9"})
    assert added.status_code == 201
    assert added.json()["modelName"] == "Claude Nova 9"
    models = await in_thread(lambda: control_plane.list_foundation_models(byProvider="Anthropic"))
    assert "anthropic.claude-nova-9" in {m["modelId"] for m in models["modelSummaries"]}
    response = await invoke(runtime, anthropic_body(), model="global.anthropic.claude-nova-9")
    assert response["message"]["model"] == "claude-nova-9"


# --- errors and authentication ---------------------------------------------------------------


async def client_error(call: Callable[[], Any]) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        await in_thread(call)
    return caught.value


async def test_unknown_and_base_ids_are_refused(runtime: Any) -> None:
    body = json.dumps(anthropic_body())
    unknown = await client_error(
        lambda: runtime.invoke_model(modelId="anthropic.nope-v1:0", body=body)
    )
    assert unknown.response["Error"] == {
        "Code": "ValidationException",
        "Message": "The provided model identifier is invalid.",
    }
    base = await client_error(
        lambda: runtime.invoke_model(modelId="anthropic.claude-opus-5-5", body=body)
    )
    assert "inference profile" in base.response["Error"]["Message"]
    assert base.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    legacy = await invoke(
        runtime, anthropic_body(), model="anthropic.claude-3-5-haiku-20241022-v1:0"
    )
    assert legacy["ResponseMetadata"]["HTTPStatusCode"] == 200


async def test_malformed_body_is_refused_like_bedrock(runtime: Any) -> None:
    body = anthropic_body()
    del body["anthropic_version"]
    error = await client_error(lambda: runtime.invoke_model(modelId=PROFILE, body=json.dumps(body)))
    assert error.response["Error"]["Code"] == "ValidationException"
    assert "required key [anthropic_version] not found" in error.response["Error"]["Message"]


async def test_bad_secret_gets_invalid_signature(
    boto_session: boto3.Session, emulator: EmulatorHandle
) -> None:
    kwargs = emulator.client_kwargs() | {"aws_secret_access_key": "wrong"}
    client = boto_session.client("bedrock-runtime", config=NO_RETRIES, **kwargs)
    error = await client_error(
        lambda: client.invoke_model(modelId=PROFILE, body=json.dumps(anthropic_body()))
    )
    assert error.response["Error"]["Code"] == "InvalidSignatureException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"].startswith("The request signature we calculated")


async def test_unknown_key_and_missing_auth(
    boto_session: boto3.Session, emulator: EmulatorHandle
) -> None:
    kwargs = emulator.client_kwargs() | {"aws_access_key_id": "AKIDSOMEONEELSE"}
    client = boto_session.client("bedrock", config=NO_RETRIES, **kwargs)
    error = await client_error(client.list_foundation_models)
    assert error.response["Error"]["Code"] == "UnrecognizedClientException"
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        response = await http.post(f"/model/{PROFILE}/invoke", json=anthropic_body())
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException:")


# --- directives, faults and knobs ------------------------------------------------------------


def directive(spec: dict[str, Any], text: str = "Hi") -> dict[str, Any]:
    return anthropic_body(f"{text} [[emulator {json.dumps(spec)}]]")


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("throttle", 429, "ThrottlingException"),
        ("server_error", 500, "InternalServerException"),
        ("overloaded", 503, "ServiceUnavailableException"),
    ],
)
async def test_fault_directives_give_bedrock_errors(
    runtime: Any, fault: str, status: int, code: str
) -> None:
    body = json.dumps(directive({"fault": fault}))
    error = await client_error(lambda: runtime.invoke_model(modelId=PROFILE, body=body))
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    if fault == "throttle":
        assert (
            error.response["Error"]["Message"]
            == "Too many requests, please wait before trying again."
        )


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ({"fault": "mid_stream_exception", "fault_after_events": 3}, "modelStreamErrorException"),
        ({"fault": "throttle", "fault_after_events": 4}, "throttlingException"),
        (
            {"fault": "mid_stream_exception", "exception_type": "internalServerException"},
            "internalServerException",
        ),
    ],
)
async def test_mid_stream_exception_reaches_boto3(
    runtime: Any, spec: dict[str, Any], code: str
) -> None:
    response = await in_thread(
        lambda: runtime.invoke_model_with_response_stream(
            modelId=PROFILE, body=json.dumps(directive(spec))
        )
    )
    received: list[Any] = []

    def consume() -> None:
        for event in response["body"]:
            received.append(event)

    with pytest.raises(botocore.exceptions.EventStreamError) as caught:
        await in_thread(consume)
    assert caught.value.response["Error"]["Code"] == code
    assert len(received) == spec.get("fault_after_events", 2)


@pytest.mark.parametrize("action", ["invoke", "invoke-with-response-stream"])
async def test_reset_tears_the_transfer(emulator: EmulatorHandle, action: str) -> None:
    raw = json.dumps(directive({"fault": "reset", "fault_after_events": 2})).encode()
    url, headers = signed(emulator, f"/model/{PROFILE}/{action}", raw)
    async with httpx.AsyncClient() as client:
        async with client.stream("POST", url, content=raw, headers=headers) as response:
            assert response.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                await response.aread()


async def test_converse_stream_mid_stream_exception(runtime: Any) -> None:
    spec = {"fault": "mid_stream_exception", "fault_after_events": 1}
    text = f"Hi [[emulator {json.dumps(spec)}]]"
    messages = [{"role": "user", "content": [{"text": text}]}]

    def consume() -> None:
        for _ in runtime.converse_stream(modelId=PROFILE, messages=messages)["stream"]:
            pass

    with pytest.raises(botocore.exceptions.EventStreamError) as caught:
        await in_thread(consume)
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"


async def test_directive_overrides_and_defaults(emulator: EmulatorHandle) -> None:
    path = f"/model/{PROFILE}/invoke"
    response = await post_signed(emulator, path, directive({"output_tokens": 3}))
    assert response.json()["usage"]["output_tokens"] == 3
    bad = await post_signed(emulator, path, directive({"output_tokenz": 3}))
    assert bad.status_code == 400
    assert "output_tokenz" in bad.json()["message"]
    async with httpx.AsyncClient(base_url=emulator.url) as client:
        updated = await client.put(
            "/_emulator/defaults", json={"output_tokens": 7, "chunk_tokens": 2}
        )
        assert updated.json()["output_tokens"] == 7
        assert (await post_signed(emulator, path, anthropic_body())).json()["usage"][
            "output_tokens"
        ] == 7
        streamed = await post_signed(emulator, f"{path}-with-response-stream", anthropic_body())
        deltas = [e for e in chunk_events(streamed.content) if e["type"] == "content_block_delta"]
        assert len(deltas) == 4  # 7 tokens, 2 per delta
        assert (await client.put("/_emulator/defaults", json={"fault": "nope"})).status_code == 400
        assert (await client.delete("/_emulator/defaults")).json()["output_tokens"] == 16


async def test_request_log(emulator: EmulatorHandle) -> None:
    await post_signed(emulator, f"/model/{PROFILE}/invoke", anthropic_body("logged"))
    async with httpx.AsyncClient(base_url=emulator.url) as client:
        logged = (await client.get("/_emulator/requests")).json()["requests"]
        assert len(logged) == 1
        entry = logged[0]
        assert entry["method"] == "POST"
        assert entry["path"] == f"/model/{PROFILE}/invoke"
        assert json.loads(entry["body"])["messages"][0]["content"] == "logged"
        assert entry["body_encoding"] == "utf-8"
        assert any(name == "authorization" for name, _ in entry["headers"])
        assert (await client.delete("/_emulator/requests")).json() == {"cleared": 1}
        assert (await client.get("/_emulator/requests")).json() == {"requests": []}


async def test_timing_knobs_on_virtual_time(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    config = EmulatorConfig(latency_ms=1000, ttft_ms=500, tokens_per_second=10, output_tokens=10)
    handle: EmulatorHandle = await nursery.start(serve_emulator, config)
    raw = json.dumps(anthropic_body()).encode()
    url, headers = signed(handle, f"/model/{PROFILE}/invoke-with-response-stream", raw)
    arrivals: list[float] = []
    async with httpx.AsyncClient(timeout=None) as client:
        start = trio.current_time()
        async with client.stream("POST", url, content=raw, headers=headers) as response:
            arrivals.append(trio.current_time() - start)
            body = b""
            async for chunk in response.aiter_raw():
                body += chunk
                arrivals.append(trio.current_time() - start)
    assert arrivals[0] == pytest.approx(1.0, abs=0.01)
    assert arrivals[-1] == pytest.approx(1.0 + 0.5 + 1.0, abs=0.01)
    metrics = chunk_events(body)[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["firstByteLatency"] == 1000
    assert metrics["invocationLatency"] == 2500

    slow = json.dumps(directive({"fault": "slow_first_byte", "slow_first_byte_ms": 3000})).encode()
    url, headers = signed(handle, f"/model/{PROFILE}/invoke", slow)
    async with httpx.AsyncClient(timeout=None) as client:
        start = trio.current_time()
        response = await client.post(url, content=slow, headers=headers)
    assert response.json()["usage"]["output_tokens"] == 10
    assert trio.current_time() - start == pytest.approx(1.0 + 3.0 + 0.5 + 1.0, abs=0.01)
