"""Benchmark of the Bedrock-native routes, side by side with direct calls to the emulator.

    .venv/bin/python bench/bedrock_bench.py [--requests 2000] [--duration 10] [--streams 9900]

Prints: added latency (c=1, p50/p90/p99), throughput (wrk, c=32), added time to first byte on
streams, RSS idle and per held stream. The proxy and the emulator run as separate processes
(`bedrock-proxy serve`, `bedrock-proxy emulator`); auth and metering are on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def payload(text: str = "hi", max_tokens: int = 16) -> bytes:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": text}],
        }
    ).encode()


async def hold_bedrock_streams(stack: Stack, count: int) -> tuple[int, float]:
    """`count` eventstreams whose first token is ten minutes away; RSS while held."""
    body = payload('[[emulator {"ttft_ms": 600000}]]')
    path = f"/bedrock/model/{MODEL}/invoke-with-response-stream"
    return await hold_streams(stack, count, path, body, b"\r\n\r\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="sequential calls per side")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--streams", type=int, default=9900, help="streams held at once")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the proxy here")
    args = parser.parse_args()

    body = payload()
    with running_stack(profile=args.profile) as stack:
        proxy_headers = {"x-api-key": stack.api_key, "content-type": "application/json"}
        idle_start = rss_kib(stack.proxy_pid)
        invoke = f"{stack.proxy_url}/bedrock/model/{MODEL}/invoke"
        stream = f"{stack.proxy_url}/bedrock/model/{MODEL}/invoke-with-response-stream"
        direct_url, direct_headers = signed_emulator_request(
            stack.emulator_url, MODEL, "invoke", body
        )
        dstream_url, dstream_headers = signed_emulator_request(
            stack.emulator_url, MODEL, "invoke-with-response-stream", body
        )

        direct = percentiles(timed_calls(direct_url, direct_headers, body, args.requests))
        cpu0 = cpu_seconds(stack.proxy_pid)
        proxied = percentiles(timed_calls(invoke, proxy_headers, body, args.requests))
        cpu_per_call = (cpu_seconds(stack.proxy_pid) - cpu0) / (args.requests + 50) * 1000
        direct_ttfb = percentiles(timed_first_bytes(dstream_url, dstream_headers, body, 300))
        proxied_ttfb = percentiles(timed_first_bytes(stream, proxy_headers, body, 300))
        direct_rps = wrk(direct_url, direct_headers, body, args.duration, args.connections)
        proxied_rps = wrk(invoke, proxy_headers, body, args.duration, args.connections)
        idle_warm = rss_kib(stack.proxy_pid)
        held, opened = (
            trio.run(hold_bedrock_streams, stack, args.streams)
            if args.streams
            else (idle_warm, 0.0)
        )

    print("\nBedrock-native routes (proxy vs the emulator called directly), this machine:")
    print(f"{'':34}{'direct':>10}{'proxy':>10}{'added':>10}")
    for name in ("p50", "p90", "p99"):
        d, p = direct[name], proxied[name]
        print(f"  invoke latency c=1 {name} (ms)     {d:10.2f}{p:10.2f}{p - d:10.2f}")
    for name in ("p50", "p99"):
        d, p = direct_ttfb[name], proxied_ttfb[name]
        print(f"  stream first byte c=1 {name} (ms)  {d:10.2f}{p:10.2f}{p - d:10.2f}")
    print(f"  invoke throughput c={args.connections} (req/s) {direct_rps:10.0f}{proxied_rps:10.0f}")
    print(f"  proxy CPU per invoke (ms)        {cpu_per_call:10.3f}")
    print(f"  proxy RSS idle at start (MiB)    {idle_start / 1024:10.1f}")
    print(f"  proxy RSS after load (MiB)       {idle_warm / 1024:10.1f}")
    if args.streams:
        per_stream = (held - idle_warm) / args.streams
        print(
            f"  {args.streams} streams held: RSS {held / 1024:.1f} MiB,"
            f" {per_stream:.1f} KiB per stream (opened in {opened:.1f} s)"
        )
    if args.profile:
        print(f"  profile written to {args.profile} (python -m pstats {args.profile})")


if __name__ == "__main__":
    main()
