"""The front door (request ids, body limits, access log) and /health with components down."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from storage.config import CacheConfig, DatabaseConfig
from tests.harness import RunningProxy, start_proxy
from tests.servers import PostgresServer, RedisServer


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    with start_proxy(tmp_path_factory.mktemp("front")) as running:
        yield running


async def test_every_response_carries_a_request_id_and_a_valid_one_is_reused(
    proxy: RunningProxy,
) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        generated = await http.get("/health")
        missing = await http.get("/no/such/page")
        data_plane = await http.post("/bedrock/model/x/invoke")
        reused = await http.get("/health", headers={"x-request-id": "trace-123.abc:7"})
        refused = await http.get("/health", headers={"x-request-id": "bad id\twith spaces"})
    for response in (generated, missing, data_plane):
        assert response.headers["x-request-id"].startswith("req_")
    assert len({generated.headers["x-request-id"], missing.headers["x-request-id"]}) == 2
    assert reused.headers["x-request-id"] == "trace-123.abc:7"
    assert refused.headers["x-request-id"].startswith("req_")


async def test_oversized_json_api_body_is_413_in_the_api_shape(proxy: RunningProxy) -> None:
    _, key = await proxy.user_with_key()
    async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
        response = await http.post(
            "/api/keys",
            content=b"{" + b" " * (10 * 1024 * 1024 + 1) + b"}",
            headers={"x-api-key": key, "content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_access_log_has_one_line_per_request_and_no_credentials(
    proxy: RunningProxy, caplog: pytest.LogCaptureFixture
) -> None:
    _, key = await proxy.user_with_key()
    caplog.set_level(logging.INFO, logger="bedrock.access")
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        await http.get("/api/keys?token=not-logged", headers={"x-api-key": key})

    def logged() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name == "bedrock.access" and "/api/keys" in r.getMessage()
        ]

    # the line is written once the last byte has gone out, on the server's thread
    with trio.fail_after(5):
        while not logged():
            await trio.sleep(0.01)
    lines = logged()
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert message.startswith("GET /api/keys 200 ")
    assert "user=" in message and "user=-" not in message
    assert key not in caplog.text
    assert "not-logged" not in caplog.text  # query strings are not logged


async def test_health_reports_each_component_and_refuses_unknown_checks(
    proxy: RunningProxy,
) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        default = (await http.get("/health")).json()
        everything = (await http.get("/health?check=all")).json()
        bogus = await http.get("/health?check=everything")
    assert default["status"] == "healthy"
    assert set(default["checks"]) == {"database", "cache", "usage", "streams"}
    assert set(everything["checks"]) == {"database", "cache", "usage", "streams", "bedrock"}
    assert default["version"]
    assert bogus.status_code == 400
    assert "unknown check" in bogus.json()["error"]["message"]


def test_redis_down_is_degraded_and_requests_keep_working(
    tmp_path: Path, redis_server: RedisServer, redis_url: str
) -> None:
    cache = CacheConfig(backend="redis", redis_url=redis_url, operation_timeout_seconds=0.3)
    with start_proxy(tmp_path, cache=cache) as running:
        with httpx.Client(base_url=running.url, timeout=10) as http:
            assert http.get("/health").json()["status"] == "healthy"
            redis_server.stop()
            try:
                health = http.get("/health")
                assert health.status_code == 200
                assert health.json()["status"] == "degraded"
                assert health.json()["checks"]["cache"]["status"] == "degraded"
                assert http.get("/health/ready").status_code == 200
            finally:
                redis_server.start()


def test_database_down_is_degraded_for_liveness_but_503_when_asked(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    with start_proxy(tmp_path, database=DatabaseConfig(url=postgres_url)) as running:
        with httpx.Client(base_url=running.url, timeout=15) as http:
            assert http.get("/health?check=database").status_code == 200
            postgres_server.stop()
            try:
                live = http.get("/health")
                asked = http.get("/health?check=database")
            finally:
                postgres_server.start()
    # a liveness probe must not restart every pod while the database is down
    assert live.status_code == 200
    assert live.json()["checks"]["database"]["status"] == "degraded"
    assert asked.status_code == 503
    assert asked.json()["status"] == "unhealthy"
