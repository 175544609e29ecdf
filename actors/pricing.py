"""The price book: model prices from `model_costs`, in memory, for the usage accountant.

The accountant calls `quote(event)` synchronously for every usage event, so lookups never
touch the database: the table is loaded at start, reloaded every `refresh_seconds`, and at
once when any instance changes a price (`invalidate()` publishes on the cache's pub/sub,
which every instance's listener receives; with the memory cache only this process hears it,
and the periodic reload covers the rest).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import attrs
import trio
from sqlalchemy.engine import Connection

from actors.supervisor import supervise
from actors.usage import PriceQuote
from proxy.pricing import CostRow, CostTable, Prices, TokenCounts, compute_cost
from proxy.usage import UsageEvent
from storage.cache import CacheBackend
from storage.database import Database
from storage.errors import StorageError
from storage.repos.costs import list_costs

log = logging.getLogger("bedrock.pricing")

CHANNEL = "pricing:invalidate"
RETRY_SECONDS = 5.0


def load_cost_table(conn: Connection) -> CostTable:
    """Every row of `model_costs` as a lookup table."""
    return CostTable.from_rows(cost_row(r) for r in list_costs(conn))


def cost_row(values: dict[str, Any]) -> CostRow:
    """A `model_costs` row as a pricing-table row."""
    return CostRow(
        region=values["region"],
        model_id=values["model_id"],
        model_name=values["model_name"] or values["model_id"],
        provider=values["provider"] or "",
        prices=Prices(
            input=values["input_price"],
            output=values["output_price"],
            cache_write_5m=values["cache_write_5m_price"],
            cache_write_1h=values["cache_write_1h_price"],
            cache_read=values["cache_read_price"],
        ),
    )


def quote_event(table: CostTable, event: UsageEvent) -> PriceQuote:
    """Unit prices and exact cost of one event; cost None when any price it needs is unknown."""
    prices = table.prices_for(event.region, event.model_id)
    if prices is None:
        return PriceQuote()
    tokens = TokenCounts(
        input=event.input_tokens,
        output=event.output_tokens,
        cache_read=event.cache_read_tokens,
        cache_write_5m=event.cache_write_5m_tokens,
        cache_write_1h=event.cache_write_1h_tokens,
    )
    return PriceQuote(
        input=prices.input,
        output=prices.output,
        cache_write_5m=prices.cache_write_5m,
        cache_write_1h=prices.cache_write_1h,
        cache_read=prices.cache_read,
        cost=compute_cost(tokens, prices),
    )


@attrs.frozen
class PriceBookStatistics:
    """How current the prices are."""

    models: int
    loads: int
    failures: int
    invalidations: int
    quotes: int
    unknown: int
    loaded_at: float | None
    last_error: str | None


@attrs.define(eq=False)
class PriceBook:
    """Prices in memory; `quote` is the accountant's pricer."""

    db: Database
    cache: CacheBackend | None = None
    refresh_seconds: float = 300.0
    _table: CostTable = attrs.field(factory=lambda: CostTable({}))
    _wake: trio.Event = attrs.field(factory=trio.Event)
    _loads: int = 0
    _started_loads: int = 0
    _installed_load: int = 0
    _failures: int = 0
    _invalidations: int = 0
    _quotes: int = 0
    _unknown: int = 0
    _loaded_at: float | None = None
    _last_error: str | None = None

    def quote(self, event: UsageEvent) -> PriceQuote:
        """Price one event from the table in memory (never blocks)."""
        quote = quote_event(self._table, event)
        self._quotes += 1
        if quote.cost is None:
            self._unknown += 1
        return quote

    def prices_for(self, region: str, model_id: str) -> Prices | None:
        """Current prices of a model called from `region` (any id form)."""
        return self._table.prices_for(region, model_id)

    def cost_of(self, region: str, model_id: str, tokens: TokenCounts) -> Decimal | None:
        """What `tokens` would cost now, or None when unknown."""
        prices = self.prices_for(region, model_id)
        return None if prices is None else compute_cost(tokens, prices)

    async def reload(self) -> None:
        """Read the table from the database now; raises `StorageError` when it cannot.

        Loads may overlap (the periodic one and one after a change). Each is numbered when it
        starts, and a result is installed only if no later-started load has been: a read that
        began before a change committed never overwrites one that began after it.
        """
        self._started_loads += 1
        number = self._started_loads
        try:
            table = await self.db.read(load_cost_table)
        except StorageError as exc:
            self._failures += 1
            self._last_error = str(exc)[:300]
            raise
        if number < self._installed_load:
            return
        self._installed_load = number
        self._table = table
        self._loads += 1
        self._loaded_at = trio.current_time()
        self._last_error = None

    async def invalidate(self) -> None:
        """Prices changed: reload here now and tell every other instance to reload."""
        self._invalidations += 1
        try:
            await self.reload()
        except StorageError as exc:
            log.warning("price reload after a change failed (retrying in the background): %s", exc)
            self._wake.set()
        if self.cache is not None:
            await self.cache.publish(CHANNEL, b"reload")

    def _on_message(self, _message: bytes | None) -> None:
        # any message, or a reconnect (None: messages may have been missed): reload soon
        self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[PriceBook]) -> None:
        """Load, then reload on every beat and whenever an invalidation arrives."""
        async with trio.open_nursery() as nursery:
            if self.cache is not None:
                await nursery.start(self.cache.run_listener, CHANNEL, self._on_message)
            ok = await self._try_reload()
            task_status.started(self)
            next_beat = trio.current_time() + self.refresh_seconds
            while True:
                retry = trio.current_time() + RETRY_SECONDS
                with trio.move_on_at(next_beat if ok else min(next_beat, retry)):
                    await self._wake.wait()
                self._wake = trio.Event()
                while next_beat <= trio.current_time():  # fixed beats: no drift
                    next_beat += self.refresh_seconds
                ok = await self._try_reload()

    async def _try_reload(self) -> bool:
        try:
            await self.reload()
        except StorageError as exc:
            log.error("cannot load model prices: %s", exc)
            return False
        return True

    def statistics(self) -> PriceBookStatistics:
        """A snapshot of the counters."""
        return PriceBookStatistics(
            models=len(self._table.by_key),
            loads=self._loads,
            failures=self._failures,
            invalidations=self._invalidations,
            quotes=self._quotes,
            unknown=self._unknown,
            loaded_at=self._loaded_at,
            last_error=self._last_error,
        )

    def __repr__(self) -> str:
        s = self.statistics()
        return f"<PriceBook models={s.models} loads={s.loads} failures={s.failures}>"


@asynccontextmanager
async def open_price_book(
    db: Database, cache: CacheBackend | None, refresh_seconds: float
) -> AsyncIterator[PriceBook]:
    """Run the price book for the block; prices are loaded before it is entered."""
    book = PriceBook(db, cache, refresh_seconds)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, "price-book", book.run)
        yield book
        nursery.cancel_scope.cancel()
