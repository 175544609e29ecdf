"""Credentials never reach the logs or AWS, through the real server (front door, access log,
data plane, Quart routes)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from tests.harness import start_proxy

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
    }
).encode()


def test_api_keys_and_tokens_never_logged_or_forwarded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bedrock")
    with start_proxy(tmp_path) as proxy:
        user_id, key = proxy.call_sync(proxy.user_with_key)
        token, _ = proxy.services.auth.mint_token(user_id)
        bogus = "SSOK_" + "Q" * 43
        with httpx.Client(base_url=proxy.url, timeout=30) as client:
            for headers in (
                {"X-API-Key": key},
                {"Authorization": f"Bearer {key}"},
                {"Authorization": f"Bearer {token}"},
                {"X-API-Key": bogus},
            ):
                client.get("/auth/me", headers=headers)
                client.get("/api/keys", headers=headers)
                client.post(
                    f"/bedrock/model/{MODEL}/invoke",
                    headers={**headers, "content-type": "application/json"},
                    content=BODY,
                )
            created = client.post("/api/keys", json={"name": "x"}, headers={"X-API-Key": key})
            assert created.status_code == 201
            new_key = created.json()["key"]
        upstream = proxy.emulator_requests()
    assert upstream, "the data plane call should have reached the emulator"
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "/auth/me" in logged  # the access log did run
    for secret in (key, token, bogus, new_key, key[5:], token.split(".")[2]):
        assert secret not in logged
    for request in upstream:
        text = repr(request)
        assert key not in text and token not in text
        names = {name.lower() for name in _header_names(request)}
        assert "x-api-key" not in names


def _header_names(request: object) -> list[str]:
    headers = getattr(request, "headers", None)
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers)
    try:
        return [name if isinstance(name, str) else name.decode() for name, _ in headers]
    except (TypeError, ValueError):
        return list(headers)
