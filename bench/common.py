"""Shared setup for benchmarks: an emulator and a proxy as separate processes, a key, stats."""

from __future__ import annotations

import contextlib
import json
import os
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
