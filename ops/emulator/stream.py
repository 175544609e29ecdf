"""Sending answers over ASGI with the knobs' timing and mid-response faults."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from ops.emulator.config import DEFAULT_MID_STREAM_EVENTS, Knobs
from ops.emulator.responses import STREAM_EXCEPTION_BY_FAULT, Headers

Send = Callable[[Any], Awaitable[None]]  # an ASGI send: takes one message dict
Finish = Callable[[int, int], bytes]


@attrs.define
class StreamPlan:
    """Encoded frames in order, with the output tokens each carries, then a final frame.

    `finish(invocation_latency_ms, first_byte_latency_ms)` builds the last frame, which
    carries Bedrock's invocation metrics.
    """

    frames: list[bytes] = attrs.Factory(list)
    tokens: list[int] = attrs.Factory(list)
    finish: Finish | None = None

    def add(self, frame: bytes, tokens: int = 0) -> None:
        """Append one frame carrying `tokens` output tokens."""
        self.frames.append(frame)
        self.tokens.append(tokens)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _first_byte_delay(knobs: Knobs) -> float:
    delay = knobs.latency_ms
    if knobs.fault == "slow_first_byte":
        delay += knobs.slow_first_byte_ms
    return delay / 1000


async def _sleep_until(deadline: float) -> None:
    # Skipping the sleep when already due saves a cancel scope per request (the sends
    # that follow are checkpoints anyway).
    if deadline > trio.current_time():
        await trio.sleep_until(deadline)


def generation_seconds(knobs: Knobs, output_tokens: int) -> float:
    """Time from first byte to the last token: ttft, then tokens at tokens_per_second."""
    rate = output_tokens / knobs.tokens_per_second if knobs.tokens_per_second else 0.0
    return knobs.ttft_ms / 1000 + rate


def mid_stream_fault(knobs: Knobs) -> tuple[int, str | None] | None:
    """(frames before the fault, stream exception type or None for a reset), if any."""
    after = knobs.fault_after_events
    if knobs.fault in ("mid_stream_exception", "reset"):
        exception = knobs.exception_type if knobs.fault == "mid_stream_exception" else None
        return (DEFAULT_MID_STREAM_EVENTS if after is None else after), exception
    if knobs.fault in STREAM_EXCEPTION_BY_FAULT and after is not None:
        return after, STREAM_EXCEPTION_BY_FAULT[knobs.fault]
    return None


async def send_unary(
    send: Send,
    started: float,
    knobs: Knobs,
    output_tokens: int,
    render: Callable[[int], tuple[bytes, Headers]],
) -> None:
    """Wait as long as the knobs say the whole answer takes, then send it in one piece.

    `render(latency_ms)` gives the body and headers; a "reset" fault sends half the body
    and closes the connection.
    """
    await _sleep_until(
        started + _first_byte_delay(knobs) + generation_seconds(knobs, output_tokens)
    )
    body, headers = render(_ms(trio.current_time() - started))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if knobs.fault == "reset":
        # Returning with more_body pending makes hypercorn drop the connection mid-body.
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        return
    await send({"type": "http.response.body", "body": body})


async def send_stream(
    send: Send,
    started: float,
    knobs: Knobs,
    plan: StreamPlan,
    headers: Headers,
    exception_frame: Callable[[str], bytes],
) -> None:
    """Send the plan's frames paced by the knobs, injecting a mid-stream fault if asked.

    Frames due at the same moment go out in one body message.
    """
    await _sleep_until(started + _first_byte_delay(knobs))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    first_byte = trio.current_time()
    total = len(plan.frames) + 1  # the final frame, built by `finish`, comes last
    fault = mid_stream_fault(knobs)
    batch: list[bytes] = []
    emitted = 0
    for index in range(total if fault is None else min(fault[0], total)):
        due = first_byte + generation_seconds(knobs, emitted) if index else first_byte
        if due > trio.current_time():
            if batch:
                body = b"".join(batch)
                await send({"type": "http.response.body", "body": body, "more_body": True})
                batch.clear()
            await trio.sleep_until(due)
        if index < len(plan.frames):
            batch.append(plan.frames[index])
            emitted += plan.tokens[index]
        elif plan.finish is not None:
            latency = trio.current_time() - started
            batch.append(plan.finish(_ms(latency), _ms(first_byte - started)))
    exception = fault[1] if fault else None
    if fault is not None and exception is None:  # reset: end without the final chunk
        await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
        return
    if exception is not None:
        batch.append(exception_frame(exception))
    await send({"type": "http.response.body", "body": b"".join(batch)})
