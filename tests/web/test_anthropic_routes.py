"""`/anthropic/v1/...` over plain HTTP: Claude Code's request shape, SSE framing, pings,
disconnects, the drain deadline, and every error in Anthropic's format."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
import trio

from actors.config import ShutdownConfig
from proxy.config import AnthropicConfig, AwsConfig, ModelDiscoveryConfig, StreamingConfig
from storage.schema import usage_records
from tests.harness import RunningProxy, start_proxy
from tests.web.bedrock_stub import run_stub
from web.dataplane.anthropic_stream import DRAIN_MESSAGE

MODEL = "claude-sonnet-4-5"
CLAUDE_CODE_BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "advanced-tool-use-2025-11-20"
)


def directive(**knobs: Any) -> str:
    return f"[[emulator {json.dumps(knobs)}]]"


def body(text: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Strict: `event:` + one `data:` line + blank line per event, and nothing torn."""
    assert text.endswith("\n\n"), text[-200:]
    events = []
    for block in text[:-2].split("\n\n"):
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: "), block
        data = json.loads(data_line.removeprefix("data: "))
        events.append((event_line.removeprefix("event: "), data))
    return events


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    streaming = StreamingConfig(
        ping_interval_seconds=0.1, max_request_bytes=256 * 1024, client_gone_max_seconds=30
    )
    with start_proxy(tmp_path_factory.mktemp("anthropic-routes"), streaming=streaming) as running:
        yield running


@pytest.fixture(scope="module")
def stubbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    with (
        run_stub() as stub_url,
        start_proxy(
            tmp_path_factory.mktemp("anthropic-stub"),
            aws=AwsConfig(endpoint_url=stub_url, access_key_id="AKIDSTUB", secret_access_key="x"),
            anthropic=AnthropicConfig(discovery=ModelDiscoveryConfig(enabled=False)),
        ) as running,
    ):
        yield running


@pytest.fixture
async def key(proxy: RunningProxy) -> str:
    return (await proxy.user_with_key())[1]


@pytest.fixture
async def http(proxy: RunningProxy) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as client:
        yield client


async def one_row(proxy: RunningProxy, request_id: str) -> dict[str, Any]:
    with trio.fail_after(10):
        while not (rows := await proxy.usage_rows(request_id=request_id)):
            await trio.sleep(0.02)
    assert len(rows) == 1, rows  # exactly one usage event
    return rows[0]


async def test_claude_code_request_shape_end_to_end(
    proxy: RunningProxy, key: str, http: httpx.AsyncClient
) -> None:
    request = {
        "model": "claude-opus-5-5",
        "max_tokens": 32000,
        "stream": True,
        "system": [
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What's here?"}]}],
        "tools": [
            {"name": "Bash", "description": "Run", "input_schema": {"type": "object"}},
            {"name": "Read", "input_schema": {"type": "object"}, "defer_loading": True},
        ],
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": "user_abc_account_def_session_ghi"},
    }
    response = await http.post(
        "/anthropic/v1/messages?beta=true",
        json=request,
        headers={
            "authorization": f"Bearer {key}",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": CLAUDE_CODE_BETAS,
            "x-claude-code-session-id": "4f1c2d3e-session",
            "x-amzn-bedrock-trace": "ENABLED",
            "user-agent": "claude-cli/2.1.331 (external, cli)",
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = [e for e in parse_sse(response.text) if e[0] != "ping"]
    assert [name for name, _ in events][:1] == ["message_start"]
    assert events[-1] == ("message_stop", {"type": "message_stop"})
    assert events[0][1]["message"]["model"] == "claude-opus-5-5"
    assert "thinking_delta" in {d["delta"]["type"] for n, d in events if n == "content_block_delta"}
    upstream = proxy.emulator_requests()[-1]
    assert upstream.path == "/model/us.anthropic.claude-opus-5-5/invoke-with-response-stream"
    sent = json.loads(upstream.body)
    assert sent["anthropic_beta"] == [
        "context-management-2025-06-27",
        "tool-search-tool-2025-10-19",
    ]
    expected = {k: v for k, v in request.items() if k not in ("model", "stream")}
    assert sent == {
        "anthropic_version": "bedrock-2023-05-31",
        **expected,
        "anthropic_beta": sent["anthropic_beta"],
    }
    headers = dict(upstream.headers)
    assert headers["x-amzn-bedrock-trace"] == "ENABLED"
    assert not {"anthropic-beta", "anthropic-version", "x-claude-code-session-id"} & set(headers)
    assert key not in json.dumps(headers)
    row = await one_row(proxy, response.headers["request-id"])
    assert row["client_session_id"] == "4f1c2d3e-session"
    assert (row["model_name"], row["model_id"]) == (
        "claude-opus-5-5",
        "us.anthropic.claude-opus-5-5",
    )
    assert row["success"] and not row["partial"] and row["output_tokens"] > 0


async def test_dropped_beta_flags_are_counted(
    proxy: RunningProxy, key: str, http: httpx.AsyncClient
) -> None:
    counter = proxy.services.metrics.beta_flags_dropped
    before = counter.labels("claude-code-20250219", "claude-4")._value.get()
    response = await http.post(
        "/anthropic/v1/messages",
        json=body(),
        headers={"x-api-key": key, "anthropic-beta": "claude-code-20250219, made-up-2099-01-01"},
    )
    assert response.status_code == 200
    assert counter.labels("claude-code-20250219", "claude-4")._value.get() == before + 1
    assert counter.labels("unrecognized", "claude-4")._value.get() >= 1
    assert "anthropic_beta" not in json.loads(proxy.emulator_requests()[-1].body)


async def test_pings_fill_long_upstream_silences(key: str, http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/anthropic/v1/messages",
        json=body("slow " + directive(ttft_ms=450, output_tokens=3), stream=True),
        headers={"x-api-key": key},
    )
    names = [name for name, _ in parse_sse(response.text)]
    first_delta = names.index("content_block_delta")
    assert names[0] == "message_start"
    assert names[:first_delta].count("ping") >= 3  # every 0.1 s of a 0.45 s silence
    assert names[-1] == "message_stop"


async def test_a_client_that_leaves_mid_stream_is_billed_in_full(
    proxy: RunningProxy, key: str, http: httpx.AsyncClient
) -> None:
    text = "long " + directive(output_tokens=60, tokens_per_second=200)
    async with http.stream(
        "POST", "/anthropic/v1/messages", json=body(text, stream=True), headers={"x-api-key": key}
    ) as response:
        rid = response.headers["request-id"]
        async for line in response.aiter_lines():
            if line.startswith("data:") and "content_block_delta" in line:
                break  # leave after the first delta; the connection is closed
    row = await one_row(proxy, rid)
    assert row["output_tokens"] == 60  # the proxy read on to the final usage
    assert row["input_tokens"] > 0
    assert (row["success"], row["partial"], row["streaming"]) == (True, False, True)


@pytest.mark.parametrize(
    ("exception", "error_type"),
    [
        ("throttlingException", "rate_limit_error"),
        ("modelStreamErrorException", "api_error"),
        ("internalServerException", "api_error"),
        ("serviceUnavailableException", "overloaded_error"),
        ("validationException", "invalid_request_error"),
        ("modelTimeoutException", "timeout_error"),
    ],
)
async def test_stream_exception_frames_become_error_events(
    proxy: RunningProxy, key: str, http: httpx.AsyncClient, exception: str, error_type: str
) -> None:
    knobs = directive(fault="mid_stream_exception", fault_after_events=3, exception_type=exception)
    response = await http.post(
        "/anthropic/v1/messages", json=body("x " + knobs, stream=True), headers={"x-api-key": key}
    )
    events = parse_sse(response.text)
    assert [n for n, _ in events][:3] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
    ]
    name, data = events[-1]
    assert name == "error" and data["error"]["type"] == error_type
    assert data["error"]["message"]  # Bedrock's text, never empty
    row = await one_row(proxy, response.headers["request-id"])
    assert (row["success"], row["error_type"], row["status_code"]) == (False, exception, 200)


async def test_a_torn_upstream_stream_ends_with_an_error_event(
    proxy: RunningProxy, key: str, http: httpx.AsyncClient
) -> None:
    knobs = directive(fault="reset", fault_after_events=4)
    response = await http.post(
        "/anthropic/v1/messages", json=body("x " + knobs, stream=True), headers={"x-api-key": key}
    )
    events = parse_sse(response.text)  # well-formed to the last byte
    assert events[-1] == (
        "error",
        {
            "type": "error",
            "error": {
                "type": "api_error",
                "message": "The connection to Bedrock was lost mid-stream.",
            },
        },
    )
    row = await one_row(proxy, response.headers["request-id"])
    assert (row["status_code"], row["partial"], row["error_type"]) == (502, True, "transport")


HTTP_ERRORS = [
    ({"fault": "throttle"}, 429, "rate_limit_error", "Too many requests"),
    ({"fault": "server_error"}, 500, "api_error", "unexpected error"),
    ({"fault": "overloaded"}, 529, "overloaded_error", "unable to process"),
    ({"no_such_knob": 1}, 400, "invalid_request_error", "no_such_knob"),
]
# on a stream these faults are exception frames (tested above); without one, HTTP errors
NON_STREAM_ONLY = [
    (
        {"fault": "mid_stream_exception", "exception_type": "modelTimeoutException"},
        504,
        "timeout_error",
        "timed out",
    ),
    (
        {"fault": "mid_stream_exception", "exception_type": "modelStreamErrorException"},
        500,
        "api_error",
        "streaming the response",
    ),
]


@pytest.mark.parametrize(
    ("knobs", "status", "error_type", "message", "stream"),
    [(*case, stream) for case in HTTP_ERRORS for stream in (False, True)]
    + [(*case, False) for case in NON_STREAM_ONLY],
)
async def test_bedrock_http_errors_in_anthropics_terms(
    proxy: RunningProxy,
    key: str,
    http: httpx.AsyncClient,
    knobs: dict[str, Any],
    status: int,
    error_type: str,
    message: str,
    stream: bool,
) -> None:
    response = await http.post(
        "/anthropic/v1/messages",
        json=body("x " + directive(**knobs), stream=stream),
        headers={"x-api-key": key},
    )
    assert response.status_code == status
    payload = response.json()
    assert payload["type"] == "error" and payload["error"]["type"] == error_type
    assert message in payload["error"]["message"]
    assert payload["request_id"] == response.headers["request-id"]
    row = await one_row(proxy, response.headers["request-id"])
    assert not row["success"]


@pytest.mark.parametrize(
    ("name", "status", "error_type", "retry_after"),
    [
        ("access", 403, "permission_error", None),
        ("missing", 404, "not_found_error", None),
        ("quota", 429, "rate_limit_error", None),
        ("not_ready", 529, "overloaded_error", None),
        ("model_error", 500, "api_error", None),
        ("throttle", 429, "rate_limit_error", "3"),
        ("unavailable", 529, "overloaded_error", "1"),
        ("expired", 500, "api_error", None),
    ],
)
async def test_bedrock_error_types_the_emulator_cannot_make(
    stubbed: RunningProxy, name: str, status: int, error_type: str, retry_after: str | None
) -> None:
    key = (await stubbed.user_with_key())[1]
    async with httpx.AsyncClient(base_url=stubbed.url) as client:
        response = await client.post(
            "/anthropic/v1/messages", json=body(f"stub:{name}"), headers={"x-api-key": key}
        )
    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type
    assert response.headers.get("retry-after") == retry_after
    if name == "expired":
        assert response.json()["error"]["message"] == (
            "Bedrock rejected the proxy's AWS credentials: The security token expired."
        )
    row = await one_row(stubbed, response.headers["request-id"])
    assert row["error_type"] != "internal"


async def test_request_errors_in_anthropics_format(key: str, http: httpx.AsyncClient) -> None:
    auth = {"x-api-key": key}
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"json": body()}, 401, "authentication_error", "missing credentials"),
        ({"json": body(), "headers": {"x-api-key": "SSOK_nope"}}, 401, "authentication_error", ""),
        (
            {"json": body(), "headers": {"authorization": "Bearer not.a.jwt"}},
            401,
            "authentication_error",
            "",
        ),
        ({"content": b"{oops", "headers": auth}, 400, "invalid_request_error", "not valid JSON"),
        ({"content": b"\xff\xfe", "headers": auth}, 400, "invalid_request_error", "not valid"),
        (
            {"json": {"model": MODEL, "messages": []}, "headers": auth},
            400,
            "invalid_request_error",
            "messages",
        ),
        (
            {
                "json": {"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
                "headers": auth,
            },
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        ),
        (
            {"json": body(model="claude-42"), "headers": auth},
            404,
            "not_found_error",
            "model: claude-42",
        ),
        ({"content": b"x" * (300 * 1024), "headers": auth}, 413, "request_too_large", "exceeds"),
    ]
    for kwargs, status, error_type, message in cases:
        response = await http.post("/anthropic/v1/messages", **kwargs)
        assert response.status_code == status, (kwargs.get("headers"), response.text)
        payload = response.json()
        assert payload["error"]["type"] == error_type
        assert message in payload["error"]["message"]
        assert response.headers["request-id"] == response.headers["x-request-id"]
    wrong_method = await http.get("/anthropic/v1/messages", headers=auth)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "invalid_request_error"
    for path in ("/anthropic/v1/complete", "/anthropic/v2/messages", "/anthropic"):
        unknown = await http.post(path, headers=auth)
        assert unknown.status_code == 404
        assert unknown.json()["error"]["type"] == "not_found_error"


async def test_models_over_http(key: str, http: httpx.AsyncClient) -> None:
    auth = {"authorization": f"Bearer {key}"}
    page = (await http.get("/anthropic/v1/models?limit=3", headers=auth)).json()
    assert len(page["data"]) == 3 and page["has_more"]
    after = (
        await http.get(f"/anthropic/v1/models?limit=2&after_id={page['last_id']}", headers=auth)
    ).json()
    assert after["data"][0]["id"] not in {m["id"] for m in page["data"]}
    bad = await http.get("/anthropic/v1/models?limit=5000", headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    alias = (await http.get("/anthropic/v1/models/claude-3-7-sonnet-latest", headers=auth)).json()
    assert alias == {
        "type": "model",
        "id": "claude-3-7-sonnet-20250219",
        "display_name": "Claude Sonnet 3.7",
        "created_at": "2025-02-19T00:00:00Z",
    }
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-5-5"
    direct = (await http.get(f"/anthropic/v1/models/{quote(arn, safe='')}", headers=auth)).json()
    assert direct["id"] == arn and direct["display_name"] == "Claude Opus 5.5"
    missing = await http.get("/anthropic/v1/models/claude-nope", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "model: claude-nope"
    assert (await http.get("/anthropic/v1/models")).status_code == 401


async def test_a_bedrock_id_or_arn_as_model_is_called_as_is(
    proxy: RunningProxy, key: str, http: httpx.AsyncClient
) -> None:
    for model in (
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-5-5",
    ):
        response = await http.post(
            "/anthropic/v1/messages", json=body(model=model), headers={"x-api-key": key}
        )
        assert response.status_code == 200, response.text
        assert response.json()["model"] == model
        assert proxy.emulator_requests()[-1].path == f"/model/{quote(model, safe='')}/invoke"


async def test_no_secret_reaches_the_logs(
    proxy: RunningProxy, key: str, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await http.post(
        "/anthropic/v1/messages",
        json=body(),
        headers={"x-api-key": key, "anthropic-beta": "claude-code-20250219"},
    )
    await http.post(
        "/anthropic/v1/messages", json=body(model="claude-42"), headers={"x-api-key": key}
    )
    assert "claude-code-20250219" in caplog.text  # the debug line naming the dropped flag
    assert key not in caplog.text
    assert proxy.emulator.config.secret_access_key not in caplog.text


async def test_the_drain_deadline_ends_a_stream_with_an_sse_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shutdown = ShutdownConfig(streaming_timeout_seconds=0.3, timeout_seconds=0.3)
    path = tmp_path_factory.mktemp("drain")
    # the proxy lives in a worker thread, so its start and teardown never block this loop
    box: list[RunningProxy] = []
    started, release = trio.Event(), trio.Event()
    token = trio.lowlevel.current_trio_token()

    def host() -> None:
        with start_proxy(path, shutdown=shutdown) as running:
            box.append(running)
            trio.from_thread.run_sync(started.set, trio_token=token)
            trio.from_thread.run(release.wait, trio_token=token)

    def begin_drain(proxy: RunningProxy) -> None:
        trio.from_thread.run_sync(proxy.lifecycle.begin_drain, "test", trio_token=proxy.token)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, host)
        await started.wait()
        proxy = box[0]
        key = (await proxy.user_with_key())[1]
        text = "slow " + directive(output_tokens=200, tokens_per_second=20)
        chunks: list[str] = []
        async with (
            httpx.AsyncClient(base_url=proxy.url, timeout=30) as http,
            http.stream(
                "POST",
                "/anthropic/v1/messages",
                json=body(text, stream=True),
                headers={"x-api-key": key},
            ) as response,
        ):
            async for chunk in response.aiter_text():  # read to the end: no protocol error
                chunks.append(chunk)
                if len(chunks) == 3:
                    await trio.to_thread.run_sync(begin_drain, proxy)
        release.set()
    events = parse_sse("".join(chunks))
    assert events[-1] == (
        "error",
        {
            "type": "error",
            "error": {
                "type": "overloaded_error",
                "message": DRAIN_MESSAGE,
            },
        },
    )
    assert "message_stop" not in [name for name, _ in events]
    # the proxy has stopped (usage flushed on the way out): read its database
    engine = sa.create_engine(f"sqlite:///{path}/proxy.db")
    with engine.connect() as conn:
        query = sa.select(usage_records).where(
            usage_records.c.request_id == response.headers["request-id"]
        )
        [row] = [dict(r._mapping) for r in conn.execute(query)]
    engine.dispose()
    assert (row["partial"], row["error_type"], row["success"]) == (True, "drain", False)
    assert row["input_tokens"] > 0 and row["output_tokens"] >= 1


async def test_health_reports_credentials_and_model_discovery(
    proxy: RunningProxy, key: str, http: httpx.AsyncClient
) -> None:
    with trio.fail_after(10):
        while proxy.services.models.statistics().last_success_at is None:
            await trio.sleep(0.02)
    response = await http.get("/health?check=bedrock")
    assert response.status_code == 200
    check = response.json()["checks"]["bedrock"]
    assert check["status"] == "healthy" and check["credentials_resolved"] is True
    discovery = check["discovery"]
    assert discovery["enabled"] and discovery["discovered_models"] > 10
    assert discovery["failures"] == 0 and discovery["last_success_at"].endswith("+00:00")
    # a model only discovery knows works without a release
    added = {"modelId": "anthropic.claude-brand-new-7", "profiles": ["us"]}
    async with httpx.AsyncClient(base_url=proxy.emulator.url) as emulator:
        assert (await emulator.post("/_emulator/models", json=added)).status_code < 300
    assert await proxy.call(proxy.services.models.refresh)
    resolved = proxy.services.models.resolve("claude-brand-new-7")
    assert resolved is not None and resolved.bedrock_id == "us.anthropic.claude-brand-new-7"
    answer = await http.post(
        "/anthropic/v1/messages", json=body(model="claude-brand-new-7"), headers={"x-api-key": key}
    )
    assert answer.status_code == 200 and answer.json()["model"] == "claude-brand-new-7"
