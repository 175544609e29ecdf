"""Prometheus exposition on its own port: the families operators alert on, bounded labels."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from ops.config import MetricsConfig
from tests.harness import RunningProxy, start_proxy
from tests.servers import free_port

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    port = free_port()
    metrics = MetricsConfig(enabled=True, host="127.0.0.1", port=port)
    with start_proxy(tmp_path_factory.mktemp("metrics"), metrics=metrics) as running:
        yield running


async def test_metrics_cover_requests_streams_actors_and_cache(proxy: RunningProxy) -> None:
    _, key = await proxy.user_with_key()
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        for _ in range(3):
            r = await http.post(
                f"/bedrock/model/{MODEL}/invoke", content=body, headers={"x-api-key": key}
            )
            assert r.status_code == 200
        await http.get("/health")
    await proxy.usage_rows()  # flush, so the accountant counters moved
    port = proxy.settings.metrics.port
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    requests = [
        line for line in text.splitlines() if line.startswith("bedrock_proxy_http_requests_total{")
    ]
    invoke = [line for line in requests if 'route="/bedrock/model/{model_id}/{action}"' in line]
    assert invoke and float(invoke[0].rsplit(" ", 1)[1]) >= 3
    # labels are route templates, never raw paths (bounded cardinality)
    assert MODEL not in text
    for family in (
        "bedrock_proxy_http_request_duration_seconds_bucket",
        "bedrock_proxy_active_streams",
        "bedrock_proxy_active_requests",
        'bedrock_proxy_actor_channel_depth{actor="usage_accountant"}',
        "bedrock_proxy_usage_rows_written_total",
        "bedrock_proxy_usage_journal_bytes",
        'bedrock_proxy_cache_hits_total{backend="memory"}',
        "bedrock_proxy_db_threads_busy",
    ):
        assert family in text, family
    written = next(
        line
        for line in text.splitlines()
        if line.startswith("bedrock_proxy_usage_rows_written_total")
    )
    assert float(written.rsplit(" ", 1)[1]) >= 3
