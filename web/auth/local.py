"""The in-process (L1) validation cache in front of the shared cache.

Every invalidation bumps `epoch`. A reader notes the epoch before it starts loading and may
store its result only if the epoch has not moved since: a load that raced with a revocation
can never put a stale validation back.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs

V = TypeVar("V")


@attrs.define(eq=False)
class LocalValidations(Generic[V]):
    """A bounded dict of validations with a freshness deadline (Trio time), indexed by user."""

    max_entries: int
    ttl: float
    epoch: int = 0
    _entries: dict[str, tuple[float, V]] = attrs.field(factory=dict)
    _by_user: dict[int, set[str]] = attrs.field(factory=dict)

    def get(self, key: str, now: float) -> V | None:
        """The fresh value of `key`, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[key]
            return None
        return entry[1]

    def put(
        self,
        key: str,
        value: V,
        *,
        user_id: int | None,
        now: float,
        epoch: int,
        ttl: float | None = None,
    ) -> bool:
        """Store unless an invalidation happened since `epoch` was read; True when stored."""
        if epoch != self.epoch:
            return False
        if key not in self._entries and len(self._entries) >= self.max_entries:
            self._evict()
        self._entries[key] = (now + min(self.ttl, ttl if ttl is not None else self.ttl), value)
        if user_id is not None:
            self._by_user.setdefault(user_id, set()).add(key)
        return True

    def _evict(self) -> None:
        # oldest insertion first; a tenth at a time keeps the cost amortised
        for key in list(self._entries)[: max(1, self.max_entries // 10)]:
            del self._entries[key]
        if len(self._by_user) > self.max_entries:
            alive = self._entries.keys()
            self._by_user = {
                uid: live for uid, keys in self._by_user.items() if (live := keys & alive)
            }

    def drop(self, keys: list[str], user_ids: list[int]) -> None:
        """Forget these keys and everything cached for these users."""
        self.epoch += 1
        for key in keys:
            self._entries.pop(key, None)
        for uid in user_ids:
            for key in self._by_user.pop(uid, ()):
                self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything (the invalidation feed may have missed messages)."""
        self.epoch += 1
        self._entries.clear()
        self._by_user.clear()

    def __len__(self) -> int:
        return len(self._entries)
