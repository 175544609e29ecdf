"""Serving the front door with hypercorn's Trio worker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from web.front import ASGIApp

log = logging.getLogger("bedrock.server")

ShutdownTrigger = Callable[[], Awaitable[None]]


def hypercorn_config(*, host: str, port: int, graceful_timeout: float) -> Config:
    """Hypercorn settings: no access log of its own (ours is in the front door)."""
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("bedrock.hypercorn")
    config.keep_alive_timeout = 75  # above common load-balancer idle timeouts (60 s)
    config.backlog = 1024
    config.h11_max_incomplete_size = 64 * 1024
    return config


async def serve_http(
    app: ASGIApp,
    config: Config,
    shutdown_trigger: ShutdownTrigger,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until `shutdown_trigger` returns and every connection has finished (or the
    graceful timeout passed). `task_status.started` gets the bound URLs."""
    await serve(app, config, shutdown_trigger=shutdown_trigger, task_status=task_status)  # type: ignore[arg-type]
