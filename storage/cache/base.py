"""The cache interface and a typed, versioned view over it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import attrs
import cattrs
import trio

T = TypeVar("T")

MessageHandler = Callable[[bytes | None], None]
"""Called with each pub/sub message; `None` means "messages may have been missed"."""


@attrs.frozen
class CacheStatistics:
    """Counters of a cache backend, for /health and metrics."""

    backend: str
    hits: int
    misses: int
    sets: int
    deletes: int
    errors: int
    entries: int | None
    evicted: int
    degraded: bool
    last_error: str | None


class CacheBackend(Protocol):
    """What every cache backend offers. Failures never raise: they count, and read as a miss."""

    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl: float | None) -> None: ...
    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool: ...
    async def pop(self, key: str) -> bytes | None: ...
    async def delete(self, *keys: str) -> None: ...
    async def publish(self, channel: str, message: bytes) -> None: ...
    async def run_listener(
        self,
        channel: str,
        handler: MessageHandler,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None: ...
    async def ping(self) -> None: ...
    def statistics(self) -> CacheStatistics: ...


@attrs.define
class Counters:
    """Mutable counters shared by the backends' implementations."""

    hits: int = 0
    misses: int = 0
    sets: int = 0
    deletes: int = 0
    errors: int = 0
    evicted: int = 0
    last_error: str | None = None


_converter = cattrs.Converter()


@attrs.frozen
class TypedCache(Generic[T]):
    """Values of one type under one namespace; bumping `version` orphans every stored shape.

    Stored as JSON `{"v": version, "d": data}`; anything that does not decode into `cls` at
    this version reads as a miss, so a deploy that changes a shape never reads a stale one.
    """

    backend: CacheBackend
    namespace: str
    version: int
    cls: type[T]

    def key(self, ident: str) -> str:
        """The backend key of `ident`."""
        return f"{self.namespace}:v{self.version}:{ident}"

    async def get(self, ident: str) -> T | None:
        """The cached value, or None on a miss, a stale shape or a backend failure."""
        raw = await self.backend.get(self.key(ident))
        return None if raw is None else self._decode(raw)

    async def set(self, ident: str, value: T, ttl: float | None) -> None:
        """Store `value` for `ttl` seconds (None: until evicted)."""
        await self.backend.set(self.key(ident), self._encode(value), ttl)

    async def delete(self, ident: str) -> None:
        """Forget `ident`."""
        await self.backend.delete(self.key(ident))

    async def pop(self, ident: str) -> T | None:
        """Read and delete in one step (single-use values such as OAuth state)."""
        raw = await self.backend.pop(self.key(ident))
        return None if raw is None else self._decode(raw)

    def _encode(self, value: T) -> bytes:
        return json.dumps({"v": self.version, "d": _converter.unstructure(value)}).encode()

    def _decode(self, raw: bytes) -> T | None:
        try:
            envelope: Any = json.loads(raw)
            if envelope.get("v") != self.version:
                return None
            return _converter.structure(envelope["d"], self.cls)
        except (ValueError, TypeError, KeyError, AttributeError, cattrs.BaseValidationError):
            return None
