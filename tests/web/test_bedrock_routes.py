"""`/bedrock/...` against a running proxy in front of the emulator, with the official clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import boto3
import httpx
import pytest
import trio
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from tests.harness import RunningProxy, start_proxy

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BASE = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64}


def body(text: str = "Hello", **extra: Any) -> bytes:
    return json.dumps({**BASE, "messages": [{"role": "user", "content": text}], **extra}).encode()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    with start_proxy(tmp_path_factory.mktemp("bedrock")) as running:
        yield running


@pytest.fixture
async def key(proxy: RunningProxy) -> str:
    return (await proxy.user_with_key())[1]


def runtime(proxy: RunningProxy, api_key: str | None) -> Any:
    """boto3 bedrock-runtime pointed at the proxy; the API key rides in a before-sign hook."""
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=f"{proxy.url}/bedrock",
        region_name="us-east-1",
        aws_access_key_id="client-side-dummy",
        aws_secret_access_key="client-side-dummy-secret",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
    )
    if api_key is not None:

        def add_key(request: Any, **_: Any) -> None:
            request.headers["X-API-Key"] = api_key

        client.meta.events.register("before-sign.bedrock-runtime.*", add_key)
    return client


def last_upstream(proxy: RunningProxy) -> Any:
    return proxy.emulator_requests()[-1]


async def test_invoke_model_with_boto3_is_metered_exactly(proxy: RunningProxy, key: str) -> None:
    client = runtime(proxy, key)

    def call() -> tuple[dict[str, Any], dict[str, Any]]:
        response = client.invoke_model(modelId=MODEL, body=body("Hello there"))
        return json.loads(response["body"].read()), response["ResponseMetadata"]

    answer, meta = await trio.to_thread.run_sync(call)
    assert answer["type"] == "message"
    upstream = last_upstream(proxy)
    # the signed URL is the URL sent: the id percent-encoded once
    assert upstream.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
    # the client's credentials never reach AWS; the proxy's SigV4 does
    names = {name for name, _ in upstream.headers}
    assert "x-api-key" not in names
    assert upstream.header("authorization").startswith("AWS4-HMAC-SHA256 Credential=AKIDEMULATOR")
    rid = meta["HTTPHeaders"]["x-request-id"]
    [row] = await proxy.usage_rows(request_id=rid)
    usage = answer["usage"]
    assert row["input_tokens"] == usage["input_tokens"]
    assert row["output_tokens"] == usage["output_tokens"]
    assert row["route"] == "bedrock.invoke"
    assert row["model_id"] == MODEL
    assert row["success"] is True
    assert row["streaming"] is False


async def test_stream_is_relayed_byte_for_byte_and_metered(proxy: RunningProxy, key: str) -> None:
    sent: list[bytes] = []
    async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
        async with http.stream(
            "POST",
            f"/bedrock/model/{MODEL}/invoke-with-response-stream",
            content=body("Stream please"),
            headers={"x-api-key": key, "content-type": "application/json"},
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
            async for chunk in response.aiter_raw():
                sent.append(chunk)
            rid = response.headers["x-request-id"]
    received = b"".join(sent)
    upstream = last_upstream(proxy)
    assert received == bytes(upstream.response)  # never re-encoded
    decoder = EventStreamBuffer()
    decoder.add_data(received)
    events = [json.loads(m.payload) for m in decoder]  # botocore checks every CRC
    assert len(events) > 5
    [row] = await proxy.usage_rows(request_id=rid)
    assert row["streaming"] is True
    assert row["output_tokens"] > 0
    assert row["stop_reason"] == "end_turn"
    assert row["first_byte_ms"] is not None


async def test_boto3_streaming_converse_and_count_tokens(proxy: RunningProxy, key: str) -> None:
    client = runtime(proxy, key)
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]

    def calls() -> dict[str, Any]:
        out: dict[str, Any] = {}
        stream = client.invoke_model_with_response_stream(modelId=MODEL, body=body("Hi"))
        out["chunks"] = [json.loads(e["chunk"]["bytes"]) for e in stream["body"]]
        out["converse"] = client.converse(modelId=MODEL, messages=messages)
        out["converse_stream"] = list(
            client.converse_stream(modelId=MODEL, messages=messages)["stream"]
        )
        out["count"] = client.count_tokens(
            modelId=MODEL.removeprefix("us."),
            input={"invokeModel": {"body": body("count me")}},
        )
        return out

    out = await trio.to_thread.run_sync(calls)
    kinds = [c["type"] for c in out["chunks"]]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "amazon-bedrock-invocationMetrics" in out["chunks"][-1]
    assert out["converse"]["output"]["message"]["role"] == "assistant"
    metadata = [e for e in out["converse_stream"] if "metadata" in e]
    assert metadata and metadata[0]["metadata"]["usage"]["outputTokens"] > 0
    assert out["count"]["inputTokens"] > 0
    rows = await proxy.usage_rows()
    routes = {r["route"] for r in rows}
    assert {
        "bedrock.invoke_stream",
        "bedrock.converse",
        "bedrock.converse_stream",
        "bedrock.count_tokens",
    } <= routes
    converse_row = [r for r in rows if r["route"] == "bedrock.converse"][-1]
    assert converse_row["output_tokens"] == out["converse"]["usage"]["outputTokens"]


async def test_anthropic_bedrock_client_create_stream_and_tools(
    proxy: RunningProxy, key: str
) -> None:
    client = anthropic.AnthropicBedrock(
        base_url=f"{proxy.url}/bedrock",
        aws_region="us-east-1",
        aws_access_key="client-side-dummy",
        aws_secret_key="client-side-dummy-secret",
        default_headers={"X-API-Key": key},
        max_retries=0,
    )
    tools = [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]

    def calls() -> dict[str, Any]:
        created = client.messages.create(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
        )
        with client.messages.stream(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
        ) as stream:
            streamed = stream.get_final_message()
        tool = client.messages.create(
            model=MODEL,
            max_tokens=200,
            tools=tools,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        )
        return {"created": created, "streamed": streamed, "tool": tool}

    out = await trio.to_thread.run_sync(calls)
    assert out["created"].content[0].type == "text"
    assert out["streamed"].usage.output_tokens > 0
    assert out["tool"].stop_reason == "tool_use"
    assert any(block.type == "tool_use" for block in out["tool"].content)
    # AnthropicBedrock sends the id with a raw ':'; the proxy sends it encoded once
    assert last_upstream(proxy).path.endswith("v1%3A0/invoke")


async def test_mid_stream_exception_reaches_boto3_and_is_metered_failed(
    proxy: RunningProxy, key: str
) -> None:
    client = runtime(proxy, key)
    directive = '[[emulator {"fault": "mid_stream_exception", "fault_after_events": 3}]]'

    def call() -> tuple[int, str]:
        stream = client.invoke_model_with_response_stream(modelId=MODEL, body=body(directive))
        rid = stream["ResponseMetadata"]["HTTPHeaders"]["x-request-id"]
        seen: list[object] = []
        with pytest.raises(EventStreamError) as err:
            seen.extend(stream["body"])
        assert "modelStreamErrorException" in str(err.value)
        return len(seen), rid

    seen, rid = await trio.to_thread.run_sync(call)
    assert seen == 3
    row = await proxy.usage_row(rid)
    assert row["success"] is False
    assert row["error_type"] == "modelStreamErrorException"


async def test_throttling_keeps_status_and_body(proxy: RunningProxy, key: str) -> None:
    client = runtime(proxy, key)

    def call() -> ClientError:
        with pytest.raises(ClientError) as err:
            client.invoke_model(modelId=MODEL, body=body('[[emulator {"fault": "throttle"}]]'))
        return err.value

    error = await trio.to_thread.run_sync(call)
    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert "Too many requests" in error.response["Error"]["Message"]
    rid = error.response["ResponseMetadata"]["HTTPHeaders"]["x-request-id"]
    [row] = await proxy.usage_rows(request_id=rid)
    assert (row["success"], row["status_code"], row["error_type"]) == (
        False,
        429,
        "ThrottlingException",
    )


@pytest.mark.parametrize(
    "bad",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "anthropic.claude%0Ainjected",
        "a" * 3000,
        "%252E%252E",
        "anthropic.claude%20space",
    ],
)
async def test_invalid_model_ids_are_refused_before_upstream(
    proxy: RunningProxy, key: str, bad: str
) -> None:
    before = len(proxy.emulator_requests())
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        response = await http.post(
            f"/bedrock/model/{bad}/invoke", content=body(), headers={"x-api-key": key}
        )
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    assert "model identifier" in response.json()["message"]
    assert len(proxy.emulator_requests()) == before


async def test_wrong_callers_are_refused_in_bedrock_shape(proxy: RunningProxy) -> None:
    before = len(proxy.emulator_requests())
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        for headers in (
            {},
            {"x-api-key": "SSOK_" + "x" * 43},
            {"authorization": "Bearer not-a-jwt"},
            {"authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/bedrock/x"},
        ):
            response = await http.post(
                f"/bedrock/model/{MODEL}/invoke", content=body(), headers=headers
            )
            assert response.status_code in (401, 403), headers
            assert response.headers["x-amzn-errortype"] in (
                "UnrecognizedClientException",
                "AccessDeniedException",
            )
            assert "message" in response.json()
    assert len(proxy.emulator_requests()) == before


async def test_boto3_without_key_gets_a_client_error(proxy: RunningProxy) -> None:
    client = runtime(proxy, None)

    def call() -> ClientError:
        with pytest.raises(ClientError) as err:
            client.invoke_model(modelId=MODEL, body=body())
        return err.value

    error = await trio.to_thread.run_sync(call)
    assert error.response["Error"]["Code"] == "UnrecognizedClientException"


async def test_oversized_body_is_413_in_bedrock_shape(proxy: RunningProxy, key: str) -> None:
    big = b"x" * (10 * 1024 * 1024 + 1)
    async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
        response = await http.post(
            f"/bedrock/model/{MODEL}/invoke", content=big, headers={"x-api-key": key}
        )
    assert response.status_code == 413
    assert response.headers["x-amzn-errortype"] == "ValidationException"


async def test_unknown_bedrock_path_is_404_in_kind(proxy: RunningProxy, key: str) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        response = await http.post(f"/bedrock/model/{MODEL}/explode", headers={"x-api-key": key})
    assert response.status_code == 404
    assert response.headers["x-amzn-errortype"] == "UnknownOperationException"


async def test_client_that_disconnects_mid_stream_is_still_billed_in_full(
    proxy: RunningProxy, key: str
) -> None:
    slow = '[[emulator {"tokens_per_second": 200, "output_tokens": 40}]]'
    async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
        async with http.stream(
            "POST",
            f"/bedrock/model/{MODEL}/invoke-with-response-stream",
            content=body(slow),
            headers={"x-api-key": key},
        ) as response:
            rid = response.headers["x-request-id"]
            async for _ in response.aiter_raw():
                break  # one chunk, then hang up
    # the proxy keeps reading upstream to the final metrics, then records them
    row = await proxy.usage_row(rid)
    assert row["output_tokens"] == 40
    assert row["partial"] is False
    assert row["success"] is True


async def test_transport_reset_ends_the_stream_with_an_exception_frame(
    proxy: RunningProxy, key: str
) -> None:
    directive = '[[emulator {"fault": "reset", "fault_after_events": 2}]]'
    async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
        async with http.stream(
            "POST",
            f"/bedrock/model/{MODEL}/invoke-with-response-stream",
            content=body(directive),
            headers={"x-api-key": key},
        ) as response:
            data = b"".join([chunk async for chunk in response.aiter_raw()])
            rid = response.headers["x-request-id"]
    decoder = EventStreamBuffer()
    decoder.add_data(data)
    messages = list(decoder)
    last = messages[-1]
    assert last.headers[":message-type"] == "exception"
    assert last.headers[":exception-type"] == "internalServerException"
    [row] = await proxy.usage_rows(request_id=rid)
    assert (row["success"], row["status_code"], row["error_type"]) == (False, 502, "transport")


def test_unreachable_bedrock_is_a_bedrock_shaped_502_and_metered(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from proxy.config import AwsConfig
    from tests.servers import free_port

    dead = AwsConfig(
        endpoint_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        access_key_id="AKIDEXAMPLE",
        secret_access_key="secret",
        connect_timeout_seconds=2,
    )
    with start_proxy(tmp_path_factory.mktemp("dead"), aws=dead) as proxy:
        _, key = proxy.call_sync(proxy.user_with_key)
        with httpx.Client(base_url=proxy.url, timeout=30) as http:
            response = http.post(
                f"/bedrock/model/{MODEL}/invoke", content=body(), headers={"x-api-key": key}
            )
        assert response.status_code == 502
        assert response.headers["x-amzn-errortype"] == "ServiceUnavailableException"
        assert "could not be reached" in response.json()["message"]
        [row] = proxy.call_sync(proxy.usage_rows_now, response.headers["x-request-id"])
    assert (row["success"], row["status_code"], row["error_type"]) == (False, 502, "transport")
