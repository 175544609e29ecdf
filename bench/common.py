"""Shared setup for benchmarks: an emulator and a proxy as separate processes, a key, stats."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx

ROOT = Path(__file__).resolve().parents[1]
EMULATOR_KEY = "AKIDEMULATOREXAMPLE"
EMULATOR_SECRET = "emulator-secret-access-key"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 60) -> None:
    """Block until something accepts connections on `port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port}")


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99 and mean of `samples` (seconds) in milliseconds."""
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "mean": statistics.fmean(ordered) * 1000,
    }


@attrs.define
class Stack:
    """A running emulator + proxy pair."""

    workdir: Path
    emulator_url: str
    proxy_url: str
    proxy_pid: int
    emulator_pid: int
    api_key: str
    procs: list[subprocess.Popen[bytes]]


def _cli(config: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ops.cli", "-c", str(config), *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEDROCK_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@contextlib.contextmanager
def running_stack(
    *,
    emulator_args: tuple[str, ...] = (),
    proxy_settings: dict[str, Any] | None = None,
    profile: Path | None = None,
) -> Iterator[Stack]:
    """Start `bedrock-proxy emulator` and `bedrock-proxy serve` (separate processes)."""
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    emu_port, proxy_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    log = (work / "emulator.log").open("wb")
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "emulator", "--port", str(emu_port), *emulator_args],
            cwd=ROOT,
            env=_env(),
            stdout=log,
            stderr=log,
        )
    )
    emulator_url = f"http://127.0.0.1:{emu_port}"
    settings: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": proxy_port},
        "jwt": {"secret": "bench-secret-" + "z" * 40},
        "aws": {
            "endpoint_url": emulator_url,
            "access_key_id": EMULATOR_KEY,
            "secret_access_key": EMULATOR_SECRET,
        },
        "database": {"url": f"sqlite:///{work}/proxy.db"},
        "usage": {"journal_path": str(work / "journal.jsonl")},
        "metrics": {"enabled": False},
        "shutdown": {"streaming_timeout_seconds": 5, "timeout_seconds": 5},
    }
    for section, values in (proxy_settings or {}).items():
        settings.setdefault(section, {}).update(values)
    config = work / "config.yaml"
    config.write_text(json.dumps(settings))
    try:
        wait_listening(emu_port)
        _cli(config, "init")
        _cli(config, "users", "create", "--email", "bench@example.com")
        key = _cli(config, "keys", "create", "--email", "bench@example.com", "--name", "bench")
        command = [sys.executable]
        if profile is not None:
            command += ["-m", "cProfile", "-o", str(profile)]
        command += ["-m", "ops.cli", "-c", str(config), "serve"]
        serve_log = (work / "proxy.log").open("wb")
        proxy = subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=serve_log, stderr=serve_log)
        procs.append(proxy)
        wait_listening(proxy_port)
        yield Stack(
            workdir=work,
            emulator_url=emulator_url,
            proxy_url=f"http://127.0.0.1:{proxy_port}",
            proxy_pid=proxy.pid,
            emulator_pid=procs[0].pid,
            api_key=key,
            procs=procs,
        )
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def signed_emulator_request(
    emulator_url: str, model_id: str, action: str, body: bytes
) -> tuple[str, dict[str, str]]:
    """A URL and SigV4 headers for calling the emulator directly (the baseline)."""
    from urllib.parse import quote

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{emulator_url}/model/{quote(model_id, safe='')}/{action}"
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"content-type": "application/json"}
    )
    SigV4Auth(Credentials(EMULATOR_KEY, EMULATOR_SECRET), "bedrock", "us-east-1").add_auth(request)
    return url, dict(request.headers.items())


def timed_calls(url: str, headers: dict[str, str], body: bytes, n: int) -> list[float]:
    """Sequential keep-alive POSTs; seconds per call."""
    samples = []
    with httpx.Client(timeout=30) as client:
        for _ in range(50):  # warm-up: connections, caches
            client.post(url, content=body, headers=headers).raise_for_status()
        for _ in range(n):
            start = time.perf_counter()
            client.post(url, content=body, headers=headers).raise_for_status()
            samples.append(time.perf_counter() - start)
    return samples


def timed_first_bytes(url: str, headers: dict[str, str], body: bytes, n: int) -> list[float]:
    """Sequential streams; seconds to the first body byte."""
    samples = []
    with httpx.Client(timeout=30) as client:
        for i in range(n + 20):
            start = time.perf_counter()
            with client.stream("POST", url, content=body, headers=headers) as response:
                response.raise_for_status()
                chunks = response.iter_raw()
                next(chunks)
                first = time.perf_counter() - start
                for _ in chunks:
                    pass
            if i >= 20:
                samples.append(first)
    return samples


def wrk(url: str, headers: dict[str, str], body: bytes, duration: int, connections: int) -> float:
    """Requests per second wrk reaches against `url` with `connections` connections."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error responses:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


async def hold_streams(
    stack: Stack, count: int, path: str, body: bytes, ready: bytes
) -> tuple[int, float]:
    """Open `count` streams on `path` (each held until `ready` has arrived); the proxy's RSS
    (KiB) while all are held, and the seconds it took to open them."""
    import trio

    host, port = "127.0.0.1", int(stack.proxy_url.rsplit(":", 1)[1])
    request = (
        f"POST {path} HTTP/1.1\r\n"
        f"host: {host}:{port}\r\nx-api-key: {stack.api_key}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    streams: list[trio.SocketStream] = []
    limiter = trio.CapacityLimiter(200)
    started = time.perf_counter()

    async def open_one() -> None:
        async with limiter:
            stream = await trio.open_tcp_stream(host, port)
            await stream.send_all(request)
            data = b""
            while ready not in data:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    raise RuntimeError(f"stream closed before {ready!r}: {data[:200]!r}")
                data += chunk
            if not data.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(data[:200].decode("latin-1"))
            streams.append(stream)

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(open_one)
    opened = time.perf_counter() - started
    await trio.sleep(2)  # let the proxy settle (allocations after the first frame)
    held = rss_kib(stack.proxy_pid)
    for stream in streams:
        await stream.aclose()
    return held, opened
