"""A scripted stand-in for Bedrock Runtime, for errors the emulator does not produce.

The last user message's text picks the answer: `stub:<name>` with a name from `ANSWERS`
(status, `x-amzn-errortype`, message, extra headers). It runs hypercorn in its own thread and
Trio loop; point a proxy's `aws.endpoint_url` at `url`.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import hypercorn.config
import hypercorn.trio
import trio

ANSWERS: dict[str, tuple[int, str, str, dict[str, str]]] = {
    "access": (403, "AccessDeniedException", "You don't have access to the model.", {}),
    "missing": (404, "ResourceNotFoundException", "Model not found in this region.", {}),
    "quota": (400, "ServiceQuotaExceededException", "Quota exceeded for tokens.", {}),
    "not_ready": (429, "ModelNotReadyException", "Model is not ready.", {}),
    "model_error": (424, "ModelErrorException", "The model failed.", {}),
    "throttle": (429, "ThrottlingException", "Too many tokens, please wait.", {"retry-after": "3"}),
    "expired": (403, "ExpiredTokenException", "The security token expired.", {}),
    "unavailable": (503, "ServiceUnavailableException", "Try later.", {"retry-after": "1"}),
}


def _pick(body: bytes) -> str:
    try:
        messages = json.loads(body)["messages"]
        content = messages[-1]["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        return str(text).removeprefix("stub:")
    except (ValueError, KeyError, IndexError, TypeError):
        return "access"


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    status, kind, text, extra = ANSWERS.get(_pick(b"".join(chunks)), ANSWERS["access"])
    body = json.dumps({"message": text}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", f"{kind}:http://internal.amazon.com/coral/".encode()),
        *((k.encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def run_stub() -> Iterator[str]:
    """Serve the stub on 127.0.0.1:0 in a background thread; yields its base URL."""
    ready: queue.Queue[str | BaseException] = queue.Queue()
    token_box: list[trio.lowlevel.TrioToken] = []
    stop = threading.Event()

    async def main() -> None:
        config = hypercorn.config.Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.graceful_timeout = 0.5
        done = trio.Event()
        token_box.append(trio.lowlevel.current_trio_token())
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                lambda task_status: hypercorn.trio.serve(
                    _app, config, shutdown_trigger=done.wait, task_status=task_status
                )
            )
            ready.put(binds[0])
            await trio.to_thread.run_sync(stop.wait)
            done.set()

    def thread_main() -> None:
        try:
            trio.run(main)
        except BaseException as exc:
            ready.put(exc)

    thread = threading.Thread(target=thread_main, name="bedrock-stub", daemon=True)
    thread.start()
    url = ready.get(timeout=30)
    if isinstance(url, BaseException):
        raise url
    try:
        yield url
    finally:
        stop.set()
        thread.join(timeout=10)
