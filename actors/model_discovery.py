"""Model discovery: which Claude models and inference profiles the AWS account can call.

At start and then every `anthropic.discovery.refresh_seconds`, Bedrock's control plane is
asked (ListFoundationModels, ListInferenceProfiles through botocore, in a worker thread) and a
new `ModelCatalog` — built-in table + discovered models + operator mappings — replaces the old
one in a single assignment, so a request always sees one whole catalog. A failed round keeps
the previous catalog, is logged and counted, and is retried after `retry_seconds`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
import botocore.session
import trio
from botocore.config import Config as BotocoreConfig
from botocore.credentials import ReadOnlyCredentials

from actors.supervisor import supervise
from proxy.bedrock import CredentialSource
from proxy.config import AnthropicConfig, AwsConfig
from proxy.models import (
    DiscoveredModel,
    DiscoveredProfile,
    ModelCatalog,
    ProfilePolicy,
    ResolvedModel,
    parse_foundation_models,
    parse_inference_profiles,
)

log = logging.getLogger("bedrock.models")

MAX_PROFILE_PAGES = 50  # 50 x 1000 profiles: far more than any account has


@attrs.frozen
class Discovery:
    """What one discovery round found."""

    models: tuple[DiscoveredModel, ...]
    profiles: tuple[DiscoveredProfile, ...]


Fetcher = Callable[[], Awaitable[Discovery]]
NOT_READY_RETRY_SECONDS = 1.0
RESOLVE_CACHE_SIZE = 4096
FIRST_ROUND_SECONDS = 5.0  # start-up waits this long at most for the first round


class NotReady(Exception):
    """Discovery cannot run yet (no AWS credentials so far); tried again shortly, not counted."""


@attrs.frozen
class DiscoveryStatistics:
    """The directory's state, for /health and tests."""

    enabled: bool
    models: int
    discovered_models: int
    discovered_profiles: int
    refreshes: int
    failures: int
    consecutive_failures: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None


@attrs.define(eq=False)
class BedrockControlPlane:
    """Calls ListFoundationModels and ListInferenceProfiles with botocore (in a thread)."""

    aws: AwsConfig
    credentials: CredentialSource
    timeout_seconds: float = 30.0
    page_size: int = 1000

    @property
    def endpoint_url(self) -> str | None:
        """`aws.control_endpoint_url`, else `aws.endpoint_url`, else AWS's default."""
        return self.aws.control_endpoint_url or self.aws.endpoint_url or None

    async def __call__(self) -> Discovery:
        source = self.credentials
        if not source.resolved:
            if not (self.aws.access_key_id and self.aws.secret_access_key):
                # the chain (profile, SSO, instance role) is walked once at start-up and on the
                # first Bedrock call; discovery waits for that rather than walking it again
                raise NotReady("AWS credentials are not resolved yet")
            source.resolve_blocking()  # explicit keys: no I/O
        credentials = await source.current()
        return await trio.to_thread.run_sync(
            self._fetch_blocking, credentials, abandon_on_cancel=True
        )

    def _fetch_blocking(self, credentials: ReadOnlyCredentials) -> Discovery:
        # a fresh session per round: an abandoned (timed-out) thread may still hold the old one
        session = botocore.session.get_session()
        client = session.create_client(
            "bedrock",
            region_name=self.aws.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token,
            config=BotocoreConfig(
                connect_timeout=min(self.timeout_seconds, self.aws.connect_timeout_seconds),
                read_timeout=self.timeout_seconds,
                retries={"total_max_attempts": 2},
            ),
        )
        try:
            models = parse_foundation_models(client.list_foundation_models(byProvider="Anthropic"))
            profiles: list[DiscoveredProfile] = []
            kwargs: dict[str, Any] = {"maxResults": self.page_size, "typeEquals": "SYSTEM_DEFINED"}
            for _ in range(MAX_PROFILE_PAGES):
                page = client.list_inference_profiles(**kwargs)
                profiles.extend(parse_inference_profiles(page))
                token = page.get("nextToken")
                if not token:
                    break
                kwargs["nextToken"] = token
        finally:
            client.close()
        return Discovery(tuple(models), tuple(profiles))


@attrs.define(eq=False)
class ModelDirectory:
    """The handle routes use: the current catalog, `resolve`, `refresh` and `statistics`."""

    config: AnthropicConfig
    policy: ProfilePolicy
    fetch: Fetcher | None
    now: Callable[[], datetime] = attrs.field(default=lambda: datetime.now(UTC))
    _catalog: ModelCatalog = attrs.field(init=False)
    _discovered: Discovery | None = None
    _refreshes: int = 0
    _failures: int = 0
    _consecutive_failures: int = 0
    _last_success_at: datetime | None = None
    _last_failure_at: datetime | None = None
    _last_error: str | None = None
    _resolved: dict[str, ResolvedModel | None] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        # an invalid operator mapping fails here, at start-up
        self._catalog = self._build(None)

    @classmethod
    def create(
        cls,
        config: AnthropicConfig,
        aws: AwsConfig,
        fetch: Fetcher | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> ModelDirectory:
        """A directory for `config` with the built-in catalog (discovery not run yet)."""
        policy = ProfilePolicy.from_setting(
            config.inference_profile,
            region=aws.region,
            region_prefixes=config.profile_region_prefixes,
        )
        if now is None:
            return cls(config, policy, fetch)
        return cls(config, policy, fetch, now)

    @property
    def catalog(self) -> ModelCatalog:
        """The catalog in force (replaced whole, never mutated)."""
        return self._catalog

    def resolve(self, name: str) -> ResolvedModel | None:
        """A model name, alias, Bedrock id, profile id or ARN → what to call; None if unknown.

        Answers are memoised per catalog (the hot path asks for the same few names)."""
        cache = self._resolved
        try:
            return cache[name]
        except KeyError:
            pass
        if len(cache) >= RESOLVE_CACHE_SIZE:  # bounded: clients may send any string
            cache.clear()
        found = cache[name] = self._catalog.resolve(name)
        return found

    def _build(self, found: Discovery | None) -> ModelCatalog:
        return ModelCatalog.build(
            policy=self.policy,
            operator_mappings=self.config.model_mappings,
            discovered_models=None if found is None else found.models,
            discovered_profiles=None if found is None else found.profiles,
        )

    async def refresh(self) -> bool:
        """One discovery round; True when the catalog was replaced. Raises `NotReady` when it
        cannot run yet. The caller bounds it in time (`run` does)."""
        if self.fetch is None:
            return False
        self._refreshes += 1
        try:
            found = await self.fetch()
            catalog = self._build(found)
        except NotReady:
            self._refreshes -= 1
            raise
        except Exception as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return False
        self._catalog, self._discovered = catalog, found
        self._resolved = {}
        self._consecutive_failures = 0
        self._last_success_at = self.now()
        log.info(
            "model discovery: %d Claude model(s), %d inference profile(s); %d names served",
            len(found.models),
            len(found.profiles),
            len(catalog.entries),
        )
        return True

    def _failed(self, error: str) -> None:
        self._failures += 1
        self._consecutive_failures += 1
        self._last_failure_at = self.now()
        self._last_error = error[:300]
        log.warning("model discovery failed (keeping the previous catalog): %s", self._last_error)

    async def run(
        self, *, task_status: trio.TaskStatus[ModelDirectory] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Started after a first round (at most `FIRST_ROUND_SECONDS`, so the first requests
        already see what the account offers); then refreshes until cancelled."""
        if self.fetch is None:
            task_status.started(self)
            await trio.sleep_forever()
        cfg = self.config.discovery
        not_ready_delay = NOT_READY_RETRY_SECONDS
        first = True
        while True:
            began = trio.current_time()
            ok = await self._round(
                min(cfg.timeout_seconds, FIRST_ROUND_SECONDS) if first else cfg.timeout_seconds
            )
            if first:
                task_status.started(self)
                first = False
            if ok is None:  # not ready: back off 1, 2, 4 ... up to retry_seconds
                await trio.sleep_until(began + not_ready_delay)
                not_ready_delay = min(not_ready_delay * 2, cfg.retry_seconds)
                continue
            await trio.sleep_until(began + (cfg.refresh_seconds if ok else cfg.retry_seconds))

    async def _round(self, seconds: float) -> bool | None:
        """`refresh` within `seconds` (None: not ready yet)."""
        with trio.move_on_after(seconds):
            try:
                return await self.refresh()
            except NotReady:
                return None
        self._failed(f"no answer within {seconds:g}s")
        return False

    def statistics(self) -> DiscoveryStatistics:
        """Counters and the last outcome."""
        found = self._discovered
        return DiscoveryStatistics(
            enabled=self.fetch is not None,
            models=len(self._catalog.entries),
            discovered_models=0 if found is None else len(found.models),
            discovered_profiles=0 if found is None else len(found.profiles),
            refreshes=self._refreshes,
            failures=self._failures,
            consecutive_failures=self._consecutive_failures,
            last_success_at=self._last_success_at,
            last_failure_at=self._last_failure_at,
            last_error=self._last_error,
        )

    def __repr__(self) -> str:
        s = self.statistics()
        return (
            f"<ModelDirectory models={s.models} discovered={s.discovered_models}"
            f" refreshes={s.refreshes} failures={s.failures}>"
        )


@asynccontextmanager
async def open_model_directory(
    config: AnthropicConfig, aws: AwsConfig, credentials: CredentialSource
) -> AsyncIterator[ModelDirectory]:
    """A directory whose discovery loop runs (supervised) for the duration of the block."""
    fetch: Fetcher | None = None
    if config.discovery.enabled:
        fetch = BedrockControlPlane(aws, credentials, config.discovery.timeout_seconds)
    directory = ModelDirectory.create(config, aws, fetch)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, "model-discovery", directory.run)
        yield directory
        nursery.cancel_scope.cancel()
