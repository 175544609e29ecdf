"""`/anthropic/v1/...`: the Anthropic Messages API served by Bedrock, identified and metered.

Requests are translated to InvokeModel (proxy/anthropic, sans-I/O), signed and sent through the
shared `BedrockClient`, and answered in Anthropic's formats: the message, SSE events, errors.
Every upstream call produces exactly one usage event. See docs/anthropic-api.md.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote

import attrs
import httpx

from actors.connection_tracker import TrackedRequest
from proxy.anthropic import (
    AnthropicError,
    BetaPolicy,
    MessagesRequest,
    SseTranslator,
    count_tokens_answer,
    count_tokens_body,
    invoke_body,
    map_bedrock_error,
    message_with_model,
    model_info,
    model_page,
    parse_messages_request,
    split_beta_header,
)
from proxy.anthropic.errors import API_ERROR, NOT_FOUND, OVERLOADED, TIMEOUT
from proxy.anthropic.model_list import encode
from proxy.bedrock import UpstreamError, forwardable_headers
from proxy.errors import ProxyError
from proxy.model_ids import parse_model_id
from proxy.models import ResolvedModel
from proxy.usage_tap import Usage, usage_from_body
from web.auth.principal import AuthError, Principal
from web.context import RequestContext, context_of
from web.dataplane.anthropic_stream import DRAIN_MESSAGE, SseStream
from web.dataplane.common import (
    BodyTooLarge,
    ClientGone,
    Headers,
    Metering,
    Receive,
    Send,
    SendWatch,
    read_body,
    send_response,
)
from web.errors import anthropic_error
from web.front import FastRoutes, Scope
from web.services import Services

log = logging.getLogger("bedrock.anthropic")

JSON = (b"content-type", b"application/json")
ALL_METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}
SESSION_HEADER = b"x-claude-code-session-id"
_UNSAFE_SESSION_CHARS = re.compile(r"[^\x21-\x7e]")
MAX_SESSION_ID_CHARS = 128
MAX_CACHED_REGIONS = 4096


@attrs.define(eq=False)
class _Call:
    """One Messages / count_tokens call on its way upstream."""

    request: MessagesRequest
    resolved: ResolvedModel
    metering: Metering
    ctx: RequestContext


@attrs.define(eq=False)
class AnthropicRoutes:
    """POST /v1/messages[/count_tokens], GET /v1/models[/{id}], and a catch-all, under
    /anthropic."""

    services: Services
    policy: BetaPolicy = attrs.field(init=False)
    _regions: dict[str, str] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self.policy = BetaPolicy.from_config(self.services.anthropic.beta_flags)

    def register(self, routes: FastRoutes) -> None:
        """Add the routes, then a catch-all answering in Anthropic's format."""
        base = "/anthropic/v1"
        routes.add({"POST"}, base + "/messages", base + "/messages", self.messages)
        routes.add(
            {"POST"},
            base + "/messages/count_tokens",
            base + "/messages/count_tokens",
            self.count_tokens,
        )
        routes.add({"GET"}, base + "/models", base + "/models", self.list_models)
        routes.add(
            {"GET"}, base + r"/models/(?P<model_id>[^/]+)", base + "/models/{id}", self.get_model
        )
        routes.add(ALL_METHODS, r"/anthropic(?:/.*)?", "/anthropic/*", _unknown)

    # --- the shared prologue ------------------------------------------------------------

    async def _principal(self, scope: Scope, send: Send, ctx: RequestContext) -> Principal | None:
        try:
            principal = await self.services.auth.authenticate(scope["headers"])
        except AuthError as exc:
            await send_error(send, ctx, exc.status, exc.message)
            return None
        ctx.user_id = principal.user_id
        return principal

    async def _body(self, receive: Receive, send: Send, ctx: RequestContext) -> bytes | None:
        limit = self.services.streaming.max_request_bytes
        try:
            return await read_body(receive, limit)
        except BodyTooLarge:
            await send_error(send, ctx, 413, f"Request body exceeds the maximum of {limit} bytes.")
        except ClientGone:
            pass
        return None

    async def _prepare(
        self, scope: Scope, receive: Receive, send: Send, *, count_tokens: bool
    ) -> _Call | None:
        """Authenticate, read, validate and resolve; None when an answer was already sent."""
        ctx = context_of(scope)
        assert ctx is not None
        principal = await self._principal(scope, send, ctx)
        if principal is None:
            return None
        raw = await self._body(receive, send, ctx)
        if raw is None:
            return None
        try:
            request = parse_messages_request(raw, count_tokens=count_tokens)
        except AnthropicError as exc:
            await send_error(send, ctx, exc.status, exc.message, exc.error_type)
            return None
        resolved = self.services.models.resolve(request.model)
        if resolved is None:
            await send_error(send, ctx, 404, f"model: {request.model}", NOT_FOUND)
            return None
        if count_tokens:
            route = "anthropic.count_tokens"
        else:
            route = "anthropic.messages_stream" if request.stream else "anthropic.messages"
        model_id = _count_model(resolved) if count_tokens else resolved.bedrock_id
        services = self.services
        metering = Metering(
            record=services.usage.record,
            ctx=ctx,
            user_id=principal.user_id,
            api_key_id=principal.api_key_id,
            model_id=model_id,
            model_name=request.model,
            region=self._region(model_id),
            route=route,
            wall=services.now(),
            started=ctx.started,
            streaming=request.stream,
            client_session_id=_session_id(scope["headers"]),
        )
        return _Call(request, resolved, metering, ctx)

    def _region(self, model_id: str) -> str:
        """`BedrockClient.region_for`, memoised (the mapping is fixed for the process)."""
        region = self._regions.get(model_id)
        if region is None:
            if len(self._regions) >= MAX_CACHED_REGIONS:
                self._regions.clear()
            region = self._regions[model_id] = self.services.bedrock.region_for(
                parse_model_id(model_id)
            )
        return region

    def _betas(self, scope: Scope, call: _Call) -> list[str]:
        """The client's flags (header, plus any in the body) through the policy."""
        values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"anthropic-beta"]
        flags = [*split_beta_header(values), *call.request.body_betas]
        if not flags:
            return []
        decision = self.policy.decide(flags, call.resolved.base_model_id)
        for dropped in decision.dropped:
            self.services.metrics.beta_flags_dropped.labels(dropped.label, decision.family).inc()
            log.debug(
                "anthropic-beta %r not sent to Bedrock for %s (family %s): %s",
                dropped.flag,
                call.resolved.bedrock_id,
                decision.family,
                dropped.reason,
            )
        return list(decision.passed)

    # --- POST /v1/messages ---------------------------------------------------------------

    async def messages(
        self, scope: Scope, receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        """Create a message, streamed (SSE) or not."""
        call = await self._prepare(scope, receive, send, count_tokens=False)
        if call is None:
            return
        body = invoke_body(call.request, self._betas(scope, call))
        stream = call.request.stream
        action = "invoke-with-response-stream" if stream else "invoke"
        accept = "application/vnd.amazon.eventstream" if stream else "application/json"
        await self._upstream(scope, receive, send, call, action, body, accept)

    async def count_tokens(
        self, scope: Scope, receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        """Count input tokens with Bedrock CountTokens."""
        call = await self._prepare(scope, receive, send, count_tokens=True)
        if call is None:
            return
        body = count_tokens_body(call.request, self._betas(scope, call))
        await self._upstream(scope, receive, send, call, "count-tokens", body, "application/json")

    async def _upstream(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        call: _Call,
        action: str,
        body: bytes,
        accept: str,
    ) -> None:
        services, metering, ctx = self.services, call.metering, call.ctx
        headers = [("content-type", "application/json"), ("accept", accept)]
        headers += [h for h in forwardable_headers(scope["headers"]) if h[0].startswith("x-amzn")]
        watch = SendWatch(send)
        try:
            request = await services.bedrock.build(
                metering.region, metering.model_id, action, body, headers
            )
            with services.tracker.track(
                user_id=metering.user_id,
                route=metering.route,
                model=metering.model_id,
                streaming=call.request.stream,
                wall=metering.wall,
            ) as tracked:
                if call.request.stream:
                    await self._stream(request, receive, watch, tracked, call)
                else:
                    await self._call(request, watch, tracked, call, action)
        except ProxyError as exc:  # e.g. no AWS credentials
            log.error("anthropic %s: %s", metering.route, exc)
            if not watch.started:
                await send_error(send, ctx, 500, f"The proxy cannot call Bedrock: {exc}")
            await metering.finish(Usage(), status=500, success=False, error_type="proxy")
        except Exception:
            log.exception("anthropic %s failed", metering.route)
            if not watch.started:
                await send_error(send, ctx, 500, "Internal proxy error.")
        finally:
            # whatever went wrong above, the call is metered exactly once
            await metering.finish(Usage(), status=500, success=False, error_type="internal")

    async def _call(
        self, request: httpx.Request, send: Send, tracked: TrackedRequest, call: _Call, action: str
    ) -> None:
        metering, ctx = call.metering, call.ctx
        response: httpx.Response | None = None
        try:
            with tracked.cancel_scope:
                response = await self.services.bedrock.send(request)
        except UpstreamError as exc:
            await self._unreachable(send, call, exc)
            return
        if response is None:  # cut by the drain deadline
            await metering.finish(
                Usage(), status=529, success=False, partial=True, error_type="drain"
            )
            await send_error(send, ctx, 529, DRAIN_MESSAGE, OVERLOADED)
            return
        metering.mark_first_byte()
        if response.status_code != 200:
            await self._upstream_error(send, call, response, response.content)
            return
        if action == "count-tokens":
            answer = count_tokens_answer(response.content)
            if answer is None:
                message = "Bedrock's CountTokens answer carried no inputTokens."
                await metering.finish(
                    Usage(), status=502, success=False, error_type="bad_upstream_answer"
                )
                await send_error(send, ctx, 502, message, API_ERROR)
                return
            await metering.finish(Usage(), status=200, success=True)
            await send_json(send, ctx, 200, answer)
            return
        # metered before answering: a client that has its answer can already find the usage
        usage = usage_from_body(response.content, response.headers, converse=False)
        await metering.finish(usage, status=200, success=True)
        await send_json(send, ctx, 200, message_with_model(response.content, call.request.model))

    async def _stream(
        self,
        request: httpx.Request,
        receive: Receive,
        send: Send,
        tracked: TrackedRequest,
        call: _Call,
    ) -> None:
        budget = self.services.streaming
        stream = SseStream(
            send=send,
            tracked=tracked,
            metering=call.metering,
            translator=SseTranslator(call.request.model),
            ping_interval=budget.ping_interval_seconds,
        )
        with tracked.cancel_scope:
            try:
                async with self.services.bedrock.stream(request) as response:
                    if response.status_code != 200:
                        error_body = await response.aread()
                        call.metering.mark_first_byte()
                        await self._upstream_error(send, call, response, error_body)
                        return
                    await stream.start(call.ctx.request_id.encode())
                    await stream.relay(
                        response,
                        receive,
                        budget.client_gone_max_seconds,
                        budget.client_gone_max_bytes,
                    )
            except UpstreamError as exc:
                await self._unreachable(send, call, exc)
                return
            except httpx.HTTPError as exc:  # reading an error body broke off
                kind = type(exc).__name__
                await self._unreachable(send, call, UpstreamError(502, "transport", kind))
                return
        if not stream.started:  # the drain deadline came before Bedrock answered
            await call.metering.finish(
                Usage(), status=529, success=False, partial=True, error_type="drain"
            )
            await send_error(send, call.ctx, 529, DRAIN_MESSAGE, OVERLOADED)
            return
        await stream.finish()

    async def _upstream_error(
        self, send: Send, call: _Call, response: httpx.Response, body: bytes
    ) -> None:
        mapped = map_bedrock_error(
            response.status_code,
            response.headers.get("x-amzn-errortype"),
            body,
            response.headers.get("retry-after"),
        )
        self.services.metrics.upstream_errors.labels(f"http_{response.status_code}").inc()
        extra: Headers = []
        if mapped.retry_after is not None:
            extra.append((b"retry-after", mapped.retry_after.encode("latin-1")))
        await call.metering.finish(
            Usage(),
            status=response.status_code,
            success=False,
            error_type=mapped.bedrock_type,
            error_message=mapped.message,
        )
        await send_error(send, call.ctx, mapped.status, mapped.message, mapped.error_type, extra)

    async def _unreachable(self, send: Send, call: _Call, exc: UpstreamError) -> None:
        self.services.metrics.upstream_errors.labels(exc.kind).inc()
        error_type = TIMEOUT if exc.status == 504 else API_ERROR
        await call.metering.finish(
            Usage(),
            status=exc.status,
            success=False,
            error_type=exc.kind,
            error_message=exc.message,
        )
        await send_error(send, call.ctx, exc.status, exc.message, error_type)

    # --- GET /v1/models -----------------------------------------------------------------

    async def list_models(
        self, scope: Scope, receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        """The models this proxy serves, newest first, paged like Anthropic's list."""
        ctx = context_of(scope)
        assert ctx is not None
        if await self._principal(scope, send, ctx) is None:
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        try:
            page = model_page(self.services.models.catalog.list_models(), query)
        except AnthropicError as exc:
            await send_error(send, ctx, exc.status, exc.message, exc.error_type)
            return
        await send_json(send, ctx, 200, encode(page))

    async def get_model(
        self, scope: Scope, receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        """One model by name, alias or Bedrock id."""
        ctx = context_of(scope)
        assert ctx is not None
        if await self._principal(scope, send, ctx) is None:
            return
        name = unquote(params["model_id"])
        resolved = self.services.models.resolve(name)
        if resolved is None:
            await send_error(send, ctx, 404, f"model: {name[:256]}", NOT_FOUND)
            return
        await send_json(send, ctx, 200, encode(model_info(resolved)))


def _count_model(resolved: ResolvedModel) -> str:
    # CountTokens takes a foundation model; counting does not depend on where the call runs
    return resolved.base_model_id or resolved.bedrock_id


def _session_id(headers: Headers) -> str | None:
    for name, value in headers:
        if name == SESSION_HEADER:
            cleaned = _UNSAFE_SESSION_CHARS.sub("", value.decode("latin-1"))
            return cleaned[:MAX_SESSION_ID_CHARS] or None
    return None


async def send_json(send: Send, ctx: RequestContext, status: int, body: bytes) -> None:
    """A JSON answer carrying Anthropic's `request-id` header."""
    await send_response(send, status, [JSON, (b"request-id", ctx.request_id.encode())], body)


async def send_error(
    send: Send,
    ctx: RequestContext,
    status: int,
    message: str,
    error_type: str | None = None,
    extra: Headers | None = None,
) -> None:
    """An error in Anthropic's shape, with `request-id`."""
    body = anthropic_error(status, message, ctx.request_id, error_type)
    headers = [JSON, (b"request-id", ctx.request_id.encode()), *(extra or ())]
    await send_response(send, status, headers, body)


async def _unknown(scope: Scope, receive: Receive, send: Send, params: dict[str, str]) -> None:
    ctx = context_of(scope)
    assert ctx is not None
    message = f"Not found: {scope['method']} {scope['path'][:256]}"
    await send_error(send, ctx, 404, message, NOT_FOUND)


__all__ = ["AnthropicRoutes", "send_error", "send_json"]
