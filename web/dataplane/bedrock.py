"""`/bedrock/model/{model_id}/{action}`: Bedrock Runtime byte for byte, identified and metered."""

from __future__ import annotations

import logging
from urllib.parse import unquote

import attrs
import httpx
import trio

from actors.connection_tracker import TrackedRequest
from proxy.bedrock import UpstreamError, forwardable_headers, returnable_headers
from proxy.errors import InvalidModelId
from proxy.eventstream import FrameSplitter, exception_frame
from proxy.model_ids import parse_model_id, validate_model_id
from proxy.usage_tap import StreamTap, Usage, usage_from_body
from web.auth.principal import AuthError
from web.context import context_of
from web.dataplane.common import (
    BodyTooLarge,
    ClientGone,
    Metering,
    Receive,
    Send,
    SendWatch,
    read_body,
    send_response,
    watch_disconnect,
)
from web.errors import bedrock_error
from web.front import FastRoutes, Scope
from web.services import Services

log = logging.getLogger("bedrock.dataplane")

ACTIONS = {
    "invoke": ("bedrock.invoke", False),
    "invoke-with-response-stream": ("bedrock.invoke_stream", True),
    "converse": ("bedrock.converse", False),
    "converse-stream": ("bedrock.converse_stream", True),
    "count-tokens": ("bedrock.count_tokens", False),
}
PATH = r"/bedrock/model/(?P<model_id>.+)/(?P<action>" + "|".join(ACTIONS) + ")"
JSON = (b"content-type", b"application/json")
DRAIN_MESSAGE = "The proxy is shutting down; the stream was ended at its drain deadline."


async def send_bedrock_error(
    send: Send, status: int, message: str, error_type: str | None = None
) -> None:
    """A Bedrock-shaped error response."""
    body, headers = bedrock_error(status, message, error_type)
    await send_response(send, status, [JSON, *headers], body)


@attrs.define(eq=False)
class BedrockRoutes:
    """The five Bedrock Runtime operations, authenticated, forwarded and metered."""

    services: Services

    def register(self, routes: FastRoutes) -> None:
        """Add the routes, then a catch-all so anything else under /bedrock answers in kind."""
        routes.add({"POST"}, PATH, "/bedrock/model/{model_id}/{action}", self.handle)
        routes.add(
            {"GET", "POST", "PUT", "DELETE", "PATCH"}, r"/bedrock/.*", "/bedrock/*", _unknown
        )

    async def handle(
        self, scope: Scope, receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        """Authenticate, validate, forward, relay and meter one call."""
        services = self.services
        ctx = context_of(scope)
        assert ctx is not None
        try:
            principal = await services.auth.authenticate(scope["headers"])
        except AuthError as exc:
            kind = "AccessDeniedException" if exc.status == 403 else "UnrecognizedClientException"
            await send_bedrock_error(send, exc.status, exc.message, kind)
            return
        ctx.user_id = principal.user_id
        try:
            model_id = validate_model_id(unquote(params["model_id"]))
        except InvalidModelId as exc:
            await send_bedrock_error(send, 400, f"Invalid model identifier: {exc}")
            return
        try:
            body = await read_body(receive, services.streaming.max_request_bytes)
        except BodyTooLarge:
            limit = services.streaming.max_request_bytes
            await send_bedrock_error(send, 413, f"Request body exceeds {limit} bytes")
            return
        except ClientGone:
            return
        route, streaming = ACTIONS[params["action"]]
        region = services.bedrock.region_for(parse_model_id(model_id))
        metering = Metering(
            record=services.usage.record,
            ctx=ctx,
            user_id=principal.user_id,
            api_key_id=principal.api_key_id,
            model_id=model_id,
            model_name=None,
            region=region,
            route=route,
            wall=services.now(),
            started=ctx.started,
            streaming=streaming,
        )
        sent = SendWatch(send)
        try:
            request = await services.bedrock.build(
                region, model_id, params["action"], body, forwardable_headers(scope["headers"])
            )
            with services.tracker.track(
                user_id=principal.user_id,
                route=route,
                model=model_id,
                streaming=streaming,
                wall=metering.wall,
            ) as tracked:
                if streaming:
                    await self._stream(request, receive, sent, tracked, metering)
                else:
                    await self._call(request, sent, tracked, metering, params["action"])
        except Exception:
            log.exception("bedrock %s failed", route)
            if not sent.started:
                await send_bedrock_error(
                    send, 500, "Internal proxy error", "InternalServerException"
                )
        finally:
            # whatever went wrong above, the call is metered exactly once
            await metering.finish(Usage(), status=500, success=False, error_type="internal")

    async def _call(
        self,
        request: httpx.Request,
        send: Send,
        tracked: TrackedRequest,
        metering: Metering,
        action: str,
    ) -> None:
        response: httpx.Response | None = None
        try:
            with tracked.cancel_scope:
                response = await self.services.bedrock.send(request)
        except UpstreamError as exc:
            await self._upstream_failed(send, metering, exc)
            return
        if response is None:  # cut by the drain deadline
            await metering.finish(
                Usage(), status=503, success=False, partial=True, error_type="drain"
            )
            await send_bedrock_error(send, 503, DRAIN_MESSAGE, "ServiceUnavailableException")
            return
        metering.mark_first_byte()
        body = response.content
        # the usage event is queued before the client sees the end of its response
        if response.status_code == 200:
            usage = (
                Usage()
                if action == "count-tokens"
                else usage_from_body(body, response.headers, converse=action == "converse")
            )
            await metering.finish(usage, status=200, success=True)
        else:
            await metering.finish(
                Usage(),
                status=response.status_code,
                success=False,
                error_type=_error_type(response),
                error_message=_error_message(body),
            )
        await send_response(send, response.status_code, returnable_headers(response.headers), body)

    async def _stream(
        self,
        request: httpx.Request,
        receive: Receive,
        send: Send,
        tracked: TrackedRequest,
        metering: Metering,
    ) -> None:
        tap = StreamTap(converse=request.url.path.endswith("/converse-stream"))
        relay = _Relay()
        with tracked.cancel_scope:
            try:
                async with self.services.bedrock.stream(request) as response:
                    if response.status_code != 200:
                        body = await response.aread()
                        metering.mark_first_byte()
                        await metering.finish(
                            Usage(),
                            status=response.status_code,
                            success=False,
                            error_type=_error_type(response),
                            error_message=_error_message(body),
                        )
                        await send_response(
                            send, response.status_code, returnable_headers(response.headers), body
                        )
                        return
                    headers = returnable_headers(response.headers)
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    relay.started = True
                    await self._relay(response, receive, send, tracked, metering, tap, relay)
            except UpstreamError as exc:
                await self._upstream_failed(send, metering, exc)
                return
        await self._end_stream(send, tracked, metering, tap.usage, relay)

    async def _relay(
        self,
        response: httpx.Response,
        receive: Receive,
        send: Send,
        tracked: TrackedRequest,
        metering: Metering,
        tap: StreamTap,
        relay: _Relay,
    ) -> None:
        """Frames go to the client as they arrive, unchanged; the tap reads usage on the way.

        When the client leaves, upstream is still read (within a time and byte budget) so the
        final usage is billed."""
        budget = self.services.streaming
        splitter = FrameSplitter()
        gone_bytes = 0

        def client_left() -> None:
            relay.client_gone = True
            tracked.client_left(budget.client_gone_max_seconds)

        async with trio.open_nursery() as watchers:
            watchers.start_soon(watch_disconnect, receive, client_left)
            try:
                async for chunk in response.aiter_raw():
                    metering.mark_first_byte()
                    frames = splitter.feed(chunk)
                    for frame in frames:
                        tap.frame(frame)
                    if relay.client_gone:
                        gone_bytes += len(chunk)
                        if gone_bytes > budget.client_gone_max_bytes:
                            break
                    elif frames:
                        data = frames[0] if len(frames) == 1 else b"".join(frames)
                        await send({"type": "http.response.body", "body": data, "more_body": True})
                        tracked.bytes_sent += len(data)
            except httpx.HTTPError as exc:
                relay.transport_error = type(exc).__name__
            watchers.cancel_scope.cancel()

    async def _end_stream(
        self, send: Send, tracked: TrackedRequest, metering: Metering, usage: Usage, relay: _Relay
    ) -> None:
        """End the response cleanly in eventstream terms and meter what was seen."""
        talking = relay.started and not relay.client_gone
        last: bytes | None = b"" if talking else None  # the final body bytes, if anyone listens
        if tracked.cut_by_drain:
            # the client sees an error (an exception frame, or a 503), as on /anthropic
            await metering.finish(
                usage,
                status=200 if relay.started else 503,
                success=False,
                partial=True,
                error_type="drain",
            )
            if talking:
                last = exception_frame("serviceUnavailableException", DRAIN_MESSAGE)
            elif not relay.started:
                await send_bedrock_error(send, 503, DRAIN_MESSAGE, "ServiceUnavailableException")
        elif relay.transport_error is not None:
            error = "The connection to Bedrock was lost mid-stream."
            await metering.finish(
                usage,
                status=502,
                success=False,
                partial=True,
                error_type="transport",
                error_message=error,
            )
            if talking:
                last = exception_frame("internalServerException", error)
        else:
            partial = relay.client_gone and not usage.complete
            await metering.finish(usage, status=200, success=True, partial=partial)
        if last is not None:
            await _end(send, last)

    async def _upstream_failed(self, send: Send, metering: Metering, exc: UpstreamError) -> None:
        self.services.metrics.upstream_errors.labels(exc.kind).inc()
        kind = {504: "ModelTimeoutException", 503: "ServiceUnavailableException"}.get(
            exc.status, "ServiceUnavailableException"
        )
        await metering.finish(
            Usage(),
            status=exc.status,
            success=False,
            error_type=exc.kind,
            error_message=exc.message,
        )
        await send_bedrock_error(send, exc.status, exc.message, kind)


@attrs.define
class _Relay:
    """What happened to one relayed stream."""

    started: bool = False
    client_gone: bool = False
    transport_error: str | None = None


async def _end(send: Send, last: bytes) -> None:
    await send({"type": "http.response.body", "body": last, "more_body": False})


def _error_type(response: httpx.Response) -> str:
    kind = str(response.headers.get("x-amzn-errortype", f"http_{response.status_code}"))
    return kind.split(":")[0]


def _error_message(body: bytes) -> str:
    return body[:1024].decode("utf-8", "replace")


async def _unknown(scope: Scope, receive: Receive, send: Send, params: dict[str, str]) -> None:
    await send_bedrock_error(
        send,
        404,
        f"No such Bedrock operation: {scope['method']} {scope['path']}",
        "UnknownOperationException",
    )
