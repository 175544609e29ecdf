"""Running the emulator on a socket with hypercorn's Trio worker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import hypercorn.config
import hypercorn.trio
import trio

from ops.emulator.app import create_emulator_app
from ops.emulator.config import EmulatorConfig
from ops.emulator.state import EmulatorState


@attrs.frozen
class EmulatorHandle:
    """A running emulator: where it listens, how to sign for it, and its live state."""

    url: str
    config: EmulatorConfig
    state: EmulatorState

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `boto3.client(...)` pointing straight at this emulator."""
        return {
            "endpoint_url": self.url,
            "region_name": self.config.region,
            "aws_access_key_id": self.config.access_key_id,
            "aws_secret_access_key": self.config.secret_access_key,
        }


def _hypercorn_config(host: str, port: int) -> hypercorn.config.Config:
    config = hypercorn.config.Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = 1.0
    config.include_server_header = False  # Bedrock sends none; one header less per response
    return config


async def serve_emulator(
    config: EmulatorConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
    task_status: trio.TaskStatus[EmulatorHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve a fresh emulator until cancelled (or `shutdown_trigger` returns).

    Reports an `EmulatorHandle` with the bound base URL once it accepts connections.
    """
    app = create_emulator_app(config)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            lambda task_status: hypercorn.trio.serve(
                app,
                _hypercorn_config(host, port),
                shutdown_trigger=shutdown_trigger,
                task_status=task_status,
            )
        )
        task_status.started(EmulatorHandle(url=binds[0], config=config, state=app.state))
