"""`bedrock-proxy serve` as operators run it: a real process, real signals, real streams."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
from botocore.eventstream import EventStreamBuffer

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SECRET = "process-test-secret-" + "y" * 32
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str], config: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ops.cli", "-c", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture
def emulator_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "emulator", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_listening(port)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wait_listening(port: int, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


def write_config(tmp_path: Path, emulator_url: str, port: int) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "server": {"host": "127.0.0.1", "port": port},
                "jwt": {"secret": SECRET},
                "aws": {
                    "endpoint_url": emulator_url,
                    "access_key_id": "AKIDEMULATOREXAMPLE",
                    "secret_access_key": "emulator-secret-access-key",
                },
                "database": {"url": f"sqlite:///{tmp_path}/proxy.db"},
                "usage": {"journal_path": str(tmp_path / "journal.jsonl")},
                "metrics": {"enabled": False},
                "shutdown": {"readiness_delay_seconds": 1, "streaming_timeout_seconds": 20},
            }
        )
    )
    return config


async def test_sigterm_drains_streams_flushes_usage_and_exits_zero(
    tmp_path: Path, emulator_url: str
) -> None:
    port = free_port()
    config = write_config(tmp_path, emulator_url, port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEDROCK_")}
    env["PYTHONPATH"] = str(Path(__file__).parents[2])
    await trio.to_thread.run_sync(lambda: cli("init", env=env, config=config))
    await trio.to_thread.run_sync(
        lambda: cli("users", "create", "--email", "drain@example.com", env=env, config=config)
    )
    key = await trio.to_thread.run_sync(
        lambda: cli(
            "keys", "create", "--email", "drain@example.com", "--name", "k", env=env, config=config
        )
    )
    server = await trio.lowlevel.open_process(
        [sys.executable, "-m", "ops.cli", "-c", str(config), "serve"],
        env=env,
        stderr=subprocess.PIPE,
    )
    await trio.to_thread.run_sync(wait_listening, port)
    base = f"http://127.0.0.1:{port}"
    slow = '[[emulator {"tokens_per_second": 20, "output_tokens": 40}]]'  # about 2 s each
    payload = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": slow}],
        }
    )
    results: list[bytes] = []
    started = trio.Event()
    opened = 0

    async def stream(http: httpx.AsyncClient) -> None:
        nonlocal opened
        async with http.stream(
            "POST",
            f"/bedrock/model/{MODEL}/invoke-with-response-stream",
            content=payload,
            headers={"x-api-key": key},
        ) as response:
            assert response.status_code == 200
            opened += 1
            if opened == 3:
                started.set()
            results.append(b"".join([c async for c in response.aiter_raw()]))

    readiness: list[int] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(stream, http)
            with trio.fail_after(20):
                await started.wait()
            server.send_signal(signal.SIGTERM)
            # readiness flips at once; liveness stays up while streams drain
            with trio.fail_after(5):
                while not readiness or readiness[-1] != 503:
                    async with httpx.AsyncClient(base_url=base, timeout=5) as probe:
                        readiness.append((await probe.get("/health/ready")).status_code)
                        live = await probe.get("/health")
                    await trio.sleep(0.05)
            assert live.status_code == 200
    with trio.fail_after(30):
        code = await server.wait()
    assert server.stderr is not None
    log = (await server.stderr.receive_some(1 << 20)).decode()
    assert code == 0, log
    # every stream completed: full frames, ending with the metrics chunk
    for data in results:
        decoder = EventStreamBuffer()
        decoder.add_data(data)
        frames = list(decoder)
        assert frames[-1].headers[":message-type"] == "event"
        assert b"amazon-bedrock-invocationMetrics" in __import__("base64").b64decode(
            json.loads(frames[-1].payload)["bytes"]
        )
    order = [line for line in log.splitlines() if "bedrock.lifecycle" in line]
    steps = [line.split("bedrock.lifecycle: ")[1] for line in order]
    assert steps[0] == "drain started (SIGTERM)"
    assert steps[1:] == [
        "listener closed",
        "requests drained",
        "usage flushed",
        "cache closed",
        "database closed",
        "stopped",
    ]
    with sqlite3.connect(tmp_path / "proxy.db") as db:
        rows = db.execute(
            "SELECT output_tokens, partial, success FROM usage_records WHERE route = ?",
            ("bedrock.invoke_stream",),
        ).fetchall()
    assert sorted(rows) == [(40, 0, 1)] * 3
