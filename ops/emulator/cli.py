"""`bedrock-proxy emulator`: run the Bedrock emulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
from functools import partial

import trio

from ops.emulator.config import EmulatorConfig
from ops.emulator.server import EmulatorHandle, serve_emulator

DEFAULT_PORT = 4010


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to `parser`."""
    defaults = EmulatorConfig()
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port to bind, 0 for any (default %(default)s)",
    )
    parser.add_argument(
        "--region", default=defaults.region, help="region requests must be signed for"
    )
    parser.add_argument("--access-key-id", default=defaults.access_key_id)
    parser.add_argument("--secret-access-key", default=defaults.secret_access_key)
    parser.add_argument(
        "--no-verify-sigv4",
        dest="verify_sigv4",
        action="store_false",
        help="accept requests without checking their SigV4 signature",
    )
    parser.add_argument(
        "--allow-on-demand-base-ids",
        dest="strict_inference_profiles",
        action="store_false",
        help="let profile-only models (Claude 4+) be invoked by their base id",
    )
    knobs = parser.add_argument_group("default behaviour (per request: [[emulator {...}]])")
    knobs.add_argument(
        "--latency-ms",
        type=float,
        default=defaults.latency_ms,
        help="delay before the response starts",
    )
    knobs.add_argument(
        "--ttft-ms",
        type=float,
        default=defaults.ttft_ms,
        help="delay from first byte to first token",
    )
    knobs.add_argument(
        "--tokens-per-second",
        type=float,
        default=defaults.tokens_per_second,
        help="output pace, 0 = unlimited",
    )
    knobs.add_argument(
        "--output-tokens", type=int, default=defaults.output_tokens, help="tokens per answer"
    )
    knobs.add_argument(
        "--chunk-tokens", type=int, default=defaults.chunk_tokens, help="tokens per stream delta"
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The `EmulatorConfig` the parsed options describe."""
    return EmulatorConfig(
        access_key_id=args.access_key_id,
        secret_access_key=args.secret_access_key,
        region=args.region,
        verify_sigv4=args.verify_sigv4,
        strict_inference_profiles=args.strict_inference_profiles,
        latency_ms=args.latency_ms,
        ttft_ms=args.ttft_ms,
        tokens_per_second=args.tokens_per_second,
        output_tokens=args.output_tokens,
        chunk_tokens=args.chunk_tokens,
    )


def _announce(handle: EmulatorHandle) -> None:
    config = handle.config
    print(f"Bedrock emulator listening on {handle.url}", flush=True)
    print(f"  AWS_ENDPOINT_URL_BEDROCK_RUNTIME={handle.url}", flush=True)
    print(f"  AWS_ENDPOINT_URL_BEDROCK={handle.url}", flush=True)
    print(f"  AWS_ACCESS_KEY_ID={config.access_key_id}", flush=True)
    print(f"  AWS_SECRET_ACCESS_KEY={config.secret_access_key}", flush=True)
    print(f"  AWS_REGION={config.region}", flush=True)


async def _main(config: EmulatorConfig, host: str, port: int) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:

        async def wait_for_signal() -> None:
            async for _ in signals:
                return

        async with trio.open_nursery() as nursery:
            serve = partial(
                serve_emulator, config, host=host, port=port, shutdown_trigger=wait_for_signal
            )
            _announce(await nursery.start(serve))


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; returns the process exit status."""
    trio.run(_main, config_from_args(args), args.host, args.port)
    return 0


def main() -> int:
    """Stand-alone entry point: `python -m ops.emulator.cli`."""
    parser = argparse.ArgumentParser(prog="bedrock-emulator", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
