"""Benchmark of `/anthropic/v1/messages`, side by side with InvokeModel on the emulator.

    .venv/bin/python bench/anthropic_bench.py [--requests 2000] [--duration 10]
                                              [--events 40000] [--streams 5000]

Prints: added latency (c=1, p50/p90/p99), throughput (wrk, c=32), added time to the first
event on streams, the SSE events per second one stream carries and the proxy's CPU per 1,000
events, and RSS per held SSE stream. The proxy and the emulator run as separate processes
(`bedrock-proxy serve`, `bedrock-proxy emulator`); auth, translation and metering are on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Stack,
    cpu_seconds,
    hold_streams,
    percentiles,
    rss_kib,
    running_stack,
    signed_emulator_request,
    timed_calls,
    timed_first_bytes,
    wrk,
)

NAME = "claude-sonnet-4-5"
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def anthropic_body(text: str = "hi", max_tokens: int = 16, stream: bool = False) -> bytes:
    body = {
        "model": NAME,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def native_body(text: str = "hi", max_tokens: int = 16) -> bytes:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": text}],
        }
    ).encode()


def one_long_stream(
    url: str, headers: dict[str, str], body: bytes, separator: bytes, pid: int | None
) -> tuple[int, float, float]:
    """(events, seconds from first to last byte, proxy CPU seconds) of one stream."""
    events, first, last = 0, 0.0, 0.0
    cpu0 = cpu_seconds(pid) if pid else 0.0
    tail = b""
    with (
        httpx.Client(timeout=120) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_raw():
            now = time.perf_counter()
            first = first or now
            last = now
            data = tail + chunk
            events += data.count(separator)
            tail = data[-(len(separator) - 1) :]
    cpu = (cpu_seconds(pid) - cpu0) if pid else 0.0
    return events, last - first, cpu


def frames_in(url: str, headers: dict[str, str], body: bytes) -> tuple[int, float]:
    """Eventstream frames and seconds of one direct stream (the emulator's own pace)."""
    from proxy.eventstream import FrameSplitter

    splitter, frames, first, last = FrameSplitter(), 0, 0.0, 0.0
    with (
        httpx.Client(timeout=120) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_raw():
            now = time.perf_counter()
            first = first or now
            last = now
            frames += len(splitter.feed(chunk))
    return frames, last - first


async def hold_sse_streams(stack: Stack, count: int) -> tuple[int, float]:
    """`count` SSE streams whose first token is ten minutes away; RSS while held."""
    body = anthropic_body('[[emulator {"ttft_ms": 600000}]]', stream=True)
    return await hold_streams(stack, count, "/anthropic/v1/messages", body, b"event: message_start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="sequential calls per side")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--events", type=int, default=40_000, help="tokens in the long stream")
    parser.add_argument("--streams", type=int, default=5000, help="SSE streams held at once")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the proxy here")
    args = parser.parse_args()

    proxy_body, direct_body = anthropic_body(), native_body()
    long_text = f'go [[emulator {{"output_tokens": {args.events}}}]]'
    with running_stack(
        profile=args.profile, proxy_settings={"anthropic": {"discovery": {"enabled": False}}}
    ) as stack:
        headers = {"x-api-key": stack.api_key, "content-type": "application/json"}
        messages = f"{stack.proxy_url}/anthropic/v1/messages"
        direct_url, direct_headers = signed_emulator_request(
            stack.emulator_url, MODEL, "invoke", direct_body
        )
        dstream_url, dstream_headers = signed_emulator_request(
            stack.emulator_url, MODEL, "invoke-with-response-stream", direct_body
        )
        stream_body = anthropic_body(stream=True)

        direct = percentiles(timed_calls(direct_url, direct_headers, direct_body, args.requests))
        cpu0 = cpu_seconds(stack.proxy_pid)
        proxied = percentiles(timed_calls(messages, headers, proxy_body, args.requests))
        cpu_per_call = (cpu_seconds(stack.proxy_pid) - cpu0) / (args.requests + 50) * 1000
        direct_first = percentiles(
            timed_first_bytes(dstream_url, dstream_headers, direct_body, 300)
        )
        proxied_first = percentiles(timed_first_bytes(messages, headers, stream_body, 300))
        direct_rps = wrk(direct_url, direct_headers, direct_body, args.duration, args.connections)
        proxied_rps = wrk(messages, headers, proxy_body, args.duration, args.connections)

        long_native = native_body(long_text, max_tokens=args.events + 10)
        lurl, lheaders = signed_emulator_request(
            stack.emulator_url, MODEL, "invoke-with-response-stream", long_native
        )
        direct_frames, direct_secs = frames_in(lurl, lheaders, long_native)
        long_body = anthropic_body(long_text, max_tokens=args.events + 10, stream=True)
        events, secs, cpu = one_long_stream(messages, headers, long_body, b"\n\n", stack.proxy_pid)
        idle_warm = rss_kib(stack.proxy_pid)
        held, opened = (
            trio.run(hold_sse_streams, stack, args.streams) if args.streams else (idle_warm, 0.0)
        )

    print("\n/anthropic/v1/messages (proxy vs InvokeModel on the emulator directly), this machine:")
    print(f"{'':38}{'direct':>10}{'proxy':>10}{'added':>10}")
    for name in ("p50", "p90", "p99"):
        d, p = direct[name], proxied[name]
        print(f"  messages latency c=1 {name} (ms)       {d:10.2f}{p:10.2f}{p - d:10.2f}")
    for name in ("p50", "p99"):
        d, p = direct_first[name], proxied_first[name]
        print(f"  stream first event c=1 {name} (ms)     {d:10.2f}{p:10.2f}{p - d:10.2f}")
    label = f"messages throughput c={args.connections} (req/s)"
    print(f"  {label:36}{direct_rps:10.0f}{proxied_rps:10.0f}")
    print(f"  proxy CPU per message (ms)            {cpu_per_call:10.3f}")
    print(
        f"  one stream, events/s                  {direct_frames / direct_secs:10.0f}"
        f"{events / secs:10.0f}   ({events} SSE events in {secs:.2f} s)"
    )
    per_thousand = cpu / events * 1000 * 1000
    print(
        f"  proxy CPU per 1,000 SSE events (ms)   {per_thousand:20.1f}"
        f"   (= {1000 / per_thousand * 1000:,.0f} events/s per core)"
    )
    print(f"  proxy RSS after load (MiB)            {idle_warm / 1024:20.1f}")
    if args.streams:
        per_stream = (held - idle_warm) / args.streams
        print(
            f"  {args.streams} SSE streams held: RSS {held / 1024:.1f} MiB,"
            f" {per_stream:.1f} KiB per stream (opened in {opened:.1f} s)"
        )
    if args.profile:
        print(f"  profile written to {args.profile} (python -m pstats {args.profile})")


if __name__ == "__main__":
    main()
