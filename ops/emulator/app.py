"""The emulator as a raw ASGI application: routing, SigV4, the request log and responses."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

import trio

from ops.emulator.config import EmulatorConfig
from ops.emulator.control import handle_control
from ops.emulator.inference import ACTIONS, count_tokens, infer
from ops.emulator.responses import Response, ServiceError, json_response
from ops.emulator.state import EmulatorState, RecordedRequest
from ops.emulator.stream import Send

# ASGI callables, loose enough that hypercorn's TypedDict-based signatures fit.
Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
_CONTROL_PREFIX = b"/_emulator"


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, response: Response, request_id: str) -> None:
    headers = [
        *response.headers,
        (b"x-amzn-requestid", request_id.encode()),
        (b"content-length", str(len(response.body)).encode()),
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def _recording(send: Send, record: RecordedRequest) -> Send:
    """`send` that also keeps the status and every body byte in the request log."""

    async def recording_send(message: Any) -> None:
        if message["type"] == "http.response.start":
            record.status.append(int(message["status"]))
        elif message["type"] == "http.response.body":
            record.response.extend(message.get("body", b""))
        await send(message)

    return recording_send


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class EmulatorApp:
    """ASGI callable standing in for Bedrock Runtime and Bedrock's model listings."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.state = EmulatorState(config)

    def __repr__(self) -> str:
        return f"<EmulatorApp {self.state!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = trio.current_time()
        request_id = str(uuid.uuid4())
        body = await _read_body(receive)
        method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        response: Response | None
        try:
            if raw_path.startswith(_CONTROL_PREFIX + b"/"):
                path = raw_path[len(_CONTROL_PREFIX) :].decode("latin-1")
                response = handle_control(self.state, method, path, body)
            else:
                headers = scope["headers"]
                record = self.state.record(method, raw_path, query, headers, body, started)
                if record is not None:
                    send = _recording(send, record)
                if self.state.verifier is not None:
                    self.state.verifier.verify(method, raw_path, query, headers, body)
                response = await self._bedrock(
                    method, raw_path, query, body, send, started, request_id
                )
        except ServiceError as error:
            response = error.response()
        if response is not None:
            await _respond(send, response, request_id)

    async def _bedrock(
        self,
        method: str,
        raw_path: bytes,
        query: bytes,
        body: bytes,
        send: Send,
        started: float,
        request_id: str,
    ) -> Response | None:
        parts = [unquote(part.decode("latin-1")) for part in raw_path.split(b"/")[1:]]
        catalogue = self.state.catalogue
        if method == "POST" and len(parts) == 3 and parts[0] == "model" and parts[2] in ACTIONS:
            if parts[2] == "count-tokens":
                return count_tokens(self.state, parts[1], body)
            await infer(self.state, parts[2], parts[1], body, send, started, request_id)
            return None
        if method == "GET" and parts[0] in ("foundation-models", "inference-profiles"):
            params = dict(parse_qsl(query.decode("latin-1")))
            if parts == ["foundation-models"]:
                return json_response(catalogue.foundation_models(params))
            if parts == ["inference-profiles"]:
                return json_response(catalogue.inference_profiles(params))
            if len(parts) == 2 and parts[0] == "foundation-models":
                return json_response(catalogue.foundation_model(parts[1]))
            if len(parts) == 2:
                return json_response(catalogue.inference_profile(parts[1]))
        raise ServiceError(404, "UnknownOperationException", "Unknown operation", coral=True)


def create_emulator_app(config: EmulatorConfig) -> EmulatorApp:
    """A fresh emulator app (its own state) for `config`."""
    return EmulatorApp(config)
