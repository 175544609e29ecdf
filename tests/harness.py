"""A running proxy in front of the Bedrock emulator, for integration tests with real clients.

The emulator and the whole supervision tree (`ops.serve.run_service`) run in their own Trio
loop on a background thread, listening on 127.0.0.1:0. Tests talk to it over HTTP with the
official clients (blocking ones from a worker thread) and reach into it with `await
proxy.call(fn, ...)`, which runs an async function inside the server's loop (to create keys,
flush usage, query rows) without blocking the test's own loop. From a plain thread use
`call_sync`.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa
import trio

from actors.config import ShutdownConfig, UsageConfig
from ops.config import MetricsConfig, Settings
from ops.emulator.config import EmulatorConfig
from ops.emulator.server import EmulatorHandle, serve_emulator
from ops.lifecycle import Lifecycle
from ops.serve import ServeHooks, run_service
from proxy.config import AwsConfig, JwtConfig
from proxy.tokens import api_key_hint, api_key_pepper, generate_api_key, hash_api_key
from storage.config import DatabaseConfig
from storage.repos import api_keys, users
from storage.schema import usage_records
from web.config import ServerConfig
from web.services import Services

T = TypeVar("T")
JWT_SECRET = "test-jwt-secret-" + "x" * 32
_emails = itertools.count(1)


@attrs.define(eq=False)
class RunningProxy:
    """Handle on a proxy started by `start_proxy`."""

    url: str
    emulator: EmulatorHandle
    settings: Settings
    services: Services
    lifecycle: Lifecycle
    token: trio.lowlevel.TrioToken
    exit_code: list[int] = attrs.field(factory=list)

    def call_sync(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `await fn(*args)` inside the server's event loop, from a non-Trio thread."""
        return trio.from_thread.run(fn, *args, trio_token=self.token)

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `await fn(*args)` inside the server's event loop, from a test's own Trio loop."""
        return await trio.to_thread.run_sync(partial(self.call_sync, fn, *args))

    async def create_user(
        self, email: str | None = None, name: str | None = None
    ) -> tuple[int, str]:
        """A local user; returns (id, email)."""
        email = email or f"user{next(_emails)}@example.com"
        now = datetime.now(UTC)

        def write(conn: sa.Connection) -> int:
            row, _ = users.create_local(conn, email=email, display_name=name, now=now)
            return row.id

        return await self.call(self.services.db.write, write), email

    async def create_key(
        self, user_id: int, *, expires_in: timedelta | None = None
    ) -> tuple[int, str]:
        """A new API key for `user_id`; returns (key id, the key)."""
        key = generate_api_key()
        pepper = api_key_pepper(self.settings.api_keys.hash_secret, JWT_SECRET)
        now = datetime.now(UTC)

        def write(conn: sa.Connection) -> int:
            row = api_keys.create(
                conn,
                user_id=user_id,
                name="test key",
                key_hash=hash_api_key(key, pepper),
                hint=api_key_hint(key),
                expires_at=None if expires_in is None else now + expires_in,
                now=now,
                max_live=1000,
            )
            return row.id

        return await self.call(self.services.db.write, write), key

    async def user_with_key(self) -> tuple[int, str]:
        """A fresh user and key; returns (user id, key)."""
        user_id, _ = await self.create_user()
        return user_id, (await self.create_key(user_id))[1]

    async def usage_rows(self, **where: Any) -> list[dict[str, Any]]:
        """Usage rows matching `where` (column=value), after flushing the accountant."""
        await self.call(self.services.usage.flush)

        def read(conn: sa.Connection) -> list[dict[str, Any]]:
            query = sa.select(usage_records).order_by(usage_records.c.id)
            for column, value in where.items():
                query = query.where(usage_records.c[column] == value)
            return [dict(r._mapping) for r in conn.execute(query)]

        return await self.call(self.services.db.read, read)

    async def usage_rows_now(self, request_id: str) -> list[dict[str, Any]]:
        """Inside the server's loop: flush, then the rows of `request_id` (for `call_sync`)."""
        await self.services.usage.flush()

        def read(conn: sa.Connection) -> list[dict[str, Any]]:
            query = sa.select(usage_records).where(usage_records.c.request_id == request_id)
            return [dict(r._mapping) for r in conn.execute(query)]

        return await self.services.db.read(read)

    async def usage_row(self, request_id: str, timeout: float = 10) -> dict[str, Any]:
        """The usage row of `request_id`, waiting for it: when a client stops reading early
        (an exception frame, a disconnect), the proxy records usage after the client is done."""
        with trio.fail_after(timeout):
            while True:
                rows = await self.usage_rows(request_id=request_id)
                if rows:
                    [row] = rows
                    return row
                await trio.sleep(0.02)

    def emulator_requests(self) -> list[Any]:
        """What the emulator received, oldest first."""
        return list(self.emulator.state.requests)


def proxy_settings(tmp_path: Path, emulator: EmulatorHandle, **overrides: Any) -> Settings:
    """Settings for a test proxy: SQLite in `tmp_path`, memory cache, the emulator as AWS."""
    fields: dict[str, Any] = {
        "server": ServerConfig(host="127.0.0.1", port=0),
        "jwt": JwtConfig(secret=JWT_SECRET),
        "aws": AwsConfig(
            region=emulator.config.region,
            endpoint_url=emulator.url,
            access_key_id=emulator.config.access_key_id,
            secret_access_key=emulator.config.secret_access_key,
        ),
        "database": DatabaseConfig(url=f"sqlite:///{tmp_path}/proxy.db"),
        "usage": UsageConfig(journal_path=str(tmp_path / "usage-journal.jsonl")),
        "metrics": MetricsConfig(enabled=False),
        "shutdown": ShutdownConfig(streaming_timeout_seconds=5, timeout_seconds=5),
    }
    fields.update(overrides)
    return Settings(**fields)


@contextlib.contextmanager
def start_proxy(
    tmp_path: Path,
    emulator_config: EmulatorConfig | None = None,
    **overrides: Any,
) -> Iterator[RunningProxy]:
    """Start emulator + proxy in a background thread; drain and stop them on exit."""
    ready: queue.Queue[RunningProxy | BaseException] = queue.Queue()
    lifecycle_box: list[Lifecycle] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            emulator = await nursery.start(
                partial(serve_emulator, emulator_config or EmulatorConfig())
            )
            settings = proxy_settings(tmp_path, emulator, **overrides)
            lifecycle = Lifecycle()
            lifecycle_box.append(lifecycle)
            box: list[Services] = []
            hooks = ServeHooks(watch_signals=False, services_ready=box.append)
            exit_code: list[int] = []

            async def serve(task_status: trio.TaskStatus[list[str]]) -> None:
                exit_code.append(
                    await run_service(
                        settings, lifecycle=lifecycle, hooks=hooks, task_status=task_status
                    )
                )
                nursery.cancel_scope.cancel()  # the proxy stopped: stop the emulator too

            binds = await nursery.start(serve)
            proxy = RunningProxy(
                url=binds[0],
                emulator=emulator,
                settings=settings,
                services=box[0],
                lifecycle=lifecycle,
                token=trio.lowlevel.current_trio_token(),
                exit_code=exit_code,
            )
            ready.put(proxy)

    def thread_main() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # reported to the waiting test thread
            ready.put(exc)

    thread = threading.Thread(target=thread_main, name="test-proxy", daemon=True)
    thread.start()
    result = ready.get(timeout=60)
    if isinstance(result, BaseException):
        raise result
    try:
        yield result
    finally:
        # from a helper thread: this may run inside a test's own Trio loop
        stopper = threading.Thread(target=_begin_drain, args=(result,), name="test-proxy-stop")
        stopper.start()
        stopper.join(timeout=10)
        thread.join(timeout=60)


def _begin_drain(proxy: RunningProxy) -> None:
    with contextlib.suppress(RuntimeError):  # the loop already ended
        trio.from_thread.run_sync(
            proxy.lifecycle.begin_drain, "test teardown", trio_token=proxy.token
        )
