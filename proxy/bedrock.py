"""The Bedrock Runtime upstream: one pooled httpx client; every call signed by botocore (SigV4)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import quote

import attrs
import botocore.session
import httpx
import trio
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from proxy.config import AwsConfig
from proxy.errors import ProxyError
from proxy.model_ids import ModelRef
from proxy.upstream_pool import LifoPoolTransport

log = logging.getLogger("bedrock.upstream")

SERVICE = "bedrock"
REFRESH_MARGIN_SECONDS = 600  # refresh temporary credentials this long before they expire

# what a client may ask Bedrock for; everything else (credentials, cookies, x-amz-*, hop-by-hop)
# stays at the proxy
FORWARDED_REQUEST_HEADERS = frozenset({b"content-type", b"accept"})
FORWARDED_REQUEST_PREFIX = b"x-amzn-bedrock-"
RETURNED_RESPONSE_HEADERS = frozenset(
    {b"content-type", b"x-amzn-requestid", b"x-amzn-errortype", b"retry-after"}
)
RETURNED_RESPONSE_PREFIX = b"x-amzn-bedrock-"


class UpstreamError(ProxyError):
    """The call did not get an HTTP answer from Bedrock (connect, timeout, reset)."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


class CredentialsUnavailable(ProxyError):
    """No AWS credentials could be found through the configured chain."""


def forwardable_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """The client's headers Bedrock may see."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in FORWARDED_REQUEST_HEADERS or lower.startswith(FORWARDED_REQUEST_PREFIX):
            out.append((lower.decode("latin-1"), value.decode("latin-1")))
    return out


def returnable_headers(headers: httpx.Headers) -> list[tuple[bytes, bytes]]:
    """Bedrock's response headers the client gets back."""
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers.raw:
        lower = name.lower()
        if lower in RETURNED_RESPONSE_HEADERS or lower.startswith(RETURNED_RESPONSE_PREFIX):
            out.append((lower, value))
    return out


@attrs.define(eq=False)
class CredentialSource:
    """botocore's credential chain (explicit config → env → profile/SSO → container → instance
    role). Temporary credentials are refreshed in a worker thread before they expire, so the
    event loop never blocks on STS or the metadata service."""

    config: AwsConfig
    _credentials: Credentials | None = None
    _frozen: ReadOnlyCredentials | None = None
    _lock: trio.Lock = attrs.field(factory=trio.Lock)

    def resolve_blocking(self) -> None:
        """Find credentials (blocking; call from a thread at start-up)."""
        cfg = self.config
        if cfg.access_key_id and cfg.secret_access_key:
            self._credentials = Credentials(
                cfg.access_key_id, cfg.secret_access_key, cfg.session_token
            )
        else:
            session = botocore.session.get_session()
            if cfg.profile:
                session.set_config_variable("profile", cfg.profile)
            self._credentials = session.get_credentials()
        if self._credentials is None:
            raise CredentialsUnavailable(
                "no AWS credentials found: set aws.access_key_id/secret_access_key, "
                "AWS_* environment variables, aws.profile, or run with an instance/task role"
            )
        self._frozen = self._credentials.get_frozen_credentials()
        log.info("AWS credentials resolved (%s)", getattr(self._credentials, "method", "config"))

    @property
    def resolved(self) -> bool:
        """True once credentials were found."""
        return self._frozen is not None

    def _expiring(self) -> bool:
        remaining = getattr(self._credentials, "_seconds_remaining", None)
        return callable(remaining) and remaining() < REFRESH_MARGIN_SECONDS

    async def current(self) -> ReadOnlyCredentials:
        """Credentials valid for the next call."""
        if self._frozen is None:
            async with self._lock:
                if self._frozen is None:
                    await trio.to_thread.run_sync(self.resolve_blocking)
        elif self._expiring():
            async with self._lock:
                if self._expiring():
                    assert self._credentials is not None
                    self._frozen = await trio.to_thread.run_sync(
                        self._credentials.get_frozen_credentials
                    )
        assert self._frozen is not None
        return self._frozen


class _KeyCachingSigV4(SigV4Auth):  # type: ignore[misc]
    """botocore's SigV4, reusing the derived signing key (it changes once a day per secret,
    region and service) instead of chaining four HMACs on every call."""

    keys: dict[tuple[str, str, str], bytes]

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        date = request.context["timestamp"][0:8]
        ident = (self.credentials.secret_key, date, self._region_name)
        key = self.keys.get(ident)
        if key is None:
            if len(self.keys) > 16:  # rotated credentials or old dates: start over
                self.keys.clear()
            k_date = self._sign(f"AWS4{self.credentials.secret_key}".encode(), date)
            k_region = self._sign(k_date, self._region_name)
            k_service = self._sign(k_region, self._service_name)
            key = self.keys[ident] = self._sign(k_service, "aws4_request")
        return str(self._sign(key, string_to_sign, hex=True))


@attrs.define(eq=False)
class BedrockClient:
    """Calls Bedrock Runtime. One instance (one connection pool) per process."""

    config: AwsConfig
    http: httpx.AsyncClient
    credentials: CredentialSource
    transport: LifoPoolTransport
    _signing_keys: dict[tuple[str, str, str], bytes] = attrs.field(factory=dict)
    _timeouts: dict[str, float | None] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._timeouts = self.http.timeout.as_dict()

    def region_for(self, ref: ModelRef) -> str:
        """The region a call goes to: `aws.region`, or the region `aws.region_prefix_mappings`
        names for the id's inference-profile prefix. Nothing else ever moves a call."""
        if ref.geo_prefix and ref.geo_prefix in self.config.region_prefix_mappings:
            return self.config.region_prefix_mappings[ref.geo_prefix]
        return self.config.region

    def endpoint(self, region: str) -> str:
        """The runtime endpoint of `region` (or the configured override)."""
        if self.config.endpoint_url:
            return self.config.endpoint_url.rstrip("/")
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"https://bedrock-runtime.{region}.{suffix}"

    def url(self, region: str, model_id: str, action: str) -> str:
        """The exact URL signed and sent: the model id percent-encoded once (`:` → `%3A`)."""
        return f"{self.endpoint(region)}/model/{quote(model_id, safe='')}/{action}"

    async def build(
        self,
        region: str,
        model_id: str,
        action: str,
        body: bytes,
        headers: Sequence[tuple[str, str]],
    ) -> httpx.Request:
        """A signed request ready to send."""
        url = self.url(region, model_id, action)
        aws = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        signer = _KeyCachingSigV4(await self.credentials.current(), SERVICE, region)
        signer.keys = self._signing_keys
        signer.add_auth(aws)
        # built directly (no client-level header/cookie merging): exactly the signed headers
        return httpx.Request(
            "POST",
            url,
            content=body,
            headers=list(aws.headers.items()),
            extensions={"timeout": self._timeouts},
        )

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send and read the whole answer."""
        return await self._send(request, stream=False)

    @asynccontextmanager
    async def stream(self, request: httpx.Request) -> AsyncIterator[httpx.Response]:
        """Send and yield the response with its body unread; closed on exit."""
        response = await self._send(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        # Straight to the client's transport: the proxy uses none of AsyncClient's per-request
        # machinery (auth flows, redirects, cookie jar, hooks), and skipping it is measurable.
        try:
            response = await self.transport.handle_async_request(request)
            response.request = request
            if not stream:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            return response
        except httpx.PoolTimeout as exc:
            raise UpstreamError(
                503, "pool_exhausted", "The proxy has no free connection to Bedrock; retry later"
            ) from exc
        except httpx.TimeoutException as exc:
            raise UpstreamError(
                504, "timeout", f"Bedrock did not answer in time ({_kind(exc)})"
            ) from exc
        except httpx.TransportError as exc:
            raise UpstreamError(
                502, "transport", f"Bedrock could not be reached ({_kind(exc)})"
            ) from exc


def _kind(exc: BaseException) -> str:
    return type(exc).__name__


def pool_transport(config: AwsConfig) -> LifoPoolTransport:
    """The connection pool: O(1) per call at any size."""
    return LifoPoolTransport(
        max_connections=config.max_connections,
        max_idle=min(config.max_connections, 256),
        keepalive_expiry=60,
        ssl_context=httpx.create_ssl_context(),
    )


def http_client(config: AwsConfig, transport: LifoPoolTransport) -> httpx.AsyncClient:
    """The shared client over `transport`, with explicit timeouts."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(
            connect=config.connect_timeout_seconds,
            read=config.read_timeout_seconds,
            write=config.read_timeout_seconds,
            pool=config.pool_timeout_seconds,
        ),
        follow_redirects=False,
        trust_env=False,
    )


@asynccontextmanager
async def open_bedrock_client(config: AwsConfig) -> AsyncIterator[BedrockClient]:
    """A client whose pool is closed on exit. Credentials are resolved lazily on first use."""
    transport = pool_transport(config)
    async with http_client(config, transport) as http:
        yield BedrockClient(
            config=config, http=http, credentials=CredentialSource(config), transport=transport
        )
