"""The price book: exact costs into usage rows, unknown prices, reloads and invalidation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import trio
import trio.testing

from actors.config import UsageConfig
from actors.pricing import PriceBook, open_price_book
from actors.usage import open_usage_accountant
from storage.cache import MemoryCache, RedisCache, open_cache
from storage.config import CacheConfig
from storage.database import Database
from storage.errors import DatabaseUnavailable
from storage.repos.costs import upsert_costs
from storage.schema import model_costs, usage_records
from tests.factories import insert_user, usage_event

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def price_row(region: str, model_id: str, **prices: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "region": region,
        "model_id": model_id,
        "model_name": model_id,
        "provider": "Anthropic",
        "input_price": Decimal("3"),
        "output_price": Decimal("15"),
        "cache_write_5m_price": Decimal("3.75"),
        "cache_write_1h_price": Decimal("6"),
        "cache_read_price": Decimal("0.3"),
    }
    values.update({k: None if v is None else Decimal(v) for k, v in prices.items()})
    return values


@pytest.fixture
def clock(mock_clock: trio.testing.MockClock) -> trio.testing.MockClock:
    # jump only after real idleness: reloads run in worker threads, and a clock that jumped
    # while one ran would pass the next beat before the reload finished
    mock_clock.autojump_threshold = 0.05
    return mock_clock


async def seed(db: Database, *rows: dict[str, Any]) -> None:
    await db.write(lambda c: upsert_costs(c, list(rows), overwrite=True, now=NOW))


async def test_costs_are_exact_and_unit_prices_are_stored(db: Database, tmp_path: Path) -> None:
    await seed(
        db,
        price_row("us-east-1", SONNET),
        price_row("eu-west-1", SONNET, input_price="3.3", output_price="16.5"),
        price_row("us-east-1", "anthropic.claude-v2", cache_write_1h_price=None),
    )
    user = await db.write(insert_user)
    cases = {
        # request id: (event overrides, expected cost)
        "input": ({"input_tokens": 1_000_000, "output_tokens": 0}, Decimal("3")),
        "output": ({"input_tokens": 0, "output_tokens": 1234}, Decimal("0.01851")),
        "cache-read": (
            {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 10_000},
            Decimal("0.003"),
        ),
        "write-5m": (
            {"input_tokens": 0, "output_tokens": 0, "cache_write_5m_tokens": 1_000},
            Decimal("0.00375"),
        ),
        "write-1h": (
            {"input_tokens": 0, "output_tokens": 0, "cache_write_1h_tokens": 1_000},
            Decimal("0.006"),
        ),
        "mixed": (
            {
                "input_tokens": 7,
                "output_tokens": 11,
                "cache_read_tokens": 13,
                "cache_write_5m_tokens": 17,
                "cache_write_1h_tokens": 19,
            },
            (7 * 3 + 11 * 15 + 13 * Decimal("0.3") + 17 * Decimal("3.75") + 19 * 6) / 1_000_000,
        ),
        # inference profiles are priced as their base model in the region called
        "profile-us": ({"model_id": "us." + SONNET, "output_tokens": 1000}, None),
        "profile-global": ({"model_id": "global." + SONNET, "output_tokens": 1000}, None),
        "profile-eu": (
            {"model_id": "eu." + SONNET, "region": "eu-west-1", "output_tokens": 1000},
            None,
        ),
        "arn": (
            {
                "model_id": f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}",
                "output_tokens": 1000,
            },
            None,
        ),
        # no price at all, and a used token kind without a price: unknown, not zero
        "unknown-model": ({"model_id": "anthropic.claude-nothing-v9:0"}, None),
        "unknown-region": ({"region": "sa-east-1"}, None),
        "no-1h-price": ({"model_id": "anthropic.claude-v2", "cache_write_1h_tokens": 5}, None),
    }
    n_input, n_output = 0, 0
    expected = {k: v for k, (_, v) in cases.items()}
    for name in ("profile-us", "profile-global", "arn"):
        n_input, n_output = 10, 1000  # usage_event's default input is 10 + n
        expected[name] = (Decimal(n_input) * 3 + Decimal(n_output) * 15) / 1_000_000
    expected["profile-eu"] = (Decimal(10) * Decimal("3.3") + 1000 * Decimal("16.5")) / 1_000_000

    config = UsageConfig(journal_path=str(tmp_path / "journal.jsonl"), flush_interval_seconds=0.05)
    async with open_price_book(db, None, 300) as book:
        async with open_usage_accountant(db, config, flush_timeout=10, pricer=book.quote) as acct:
            for name, (overrides, _) in cases.items():
                await acct.record(usage_event(user, 0, request_id=name, **overrides))
        assert acct.statistics().unpriced == 3
        assert book.statistics().unknown == 3

    rows = {
        r.request_id: r for r in await db.read(lambda c: list(c.execute(sa.select(usage_records))))
    }
    assert {name: rows[name].cost_usd for name in cases} == expected
    sonnet = rows["mixed"]
    assert (
        sonnet.price_input,
        sonnet.price_output,
        sonnet.price_cache_write_5m,
        sonnet.price_cache_write_1h,
        sonnet.price_cache_read,
    ) == (Decimal(3), Decimal(15), Decimal("3.75"), Decimal(6), Decimal("0.3"))
    assert rows["profile-eu"].price_input == Decimal("3.3")
    assert rows["unknown-model"].price_input is None
    # the unit prices a row was charged with stay, whatever happens to the table later
    assert rows["no-1h-price"].price_input == Decimal(3)
    assert rows["no-1h-price"].price_cache_write_1h is None


async def test_a_price_change_reaches_other_instances_through_the_cache(
    sqlite_db: Database,
) -> None:
    await seed(sqlite_db, price_row("us-east-1", SONNET))
    cache = MemoryCache(max_entries=100)
    async with (
        open_price_book(sqlite_db, cache, 3600) as here,
        open_price_book(sqlite_db, cache, 3600) as there,
    ):
        prices = there.prices_for("us-east-1", SONNET)
        assert prices is not None and prices.output == 15
        await seed(sqlite_db, price_row("us-east-1", SONNET, output_price="12"))
        await here.invalidate()
        prices = here.prices_for("us-east-1", SONNET)
        assert prices is not None and prices.output == 12  # at once, here
        with trio.fail_after(5):
            while (p := there.prices_for("us-east-1", SONNET)) is None or p.output != 12:
                await trio.sleep(0.01)


async def test_invalidation_over_redis_between_two_instances(
    sqlite_db: Database, redis_url: str
) -> None:
    await seed(sqlite_db, price_row("us-east-1", SONNET))
    config = CacheConfig(backend="redis", redis_url=redis_url)
    async with open_cache(config) as cache_a, open_cache(config) as cache_b:
        assert isinstance(cache_a, RedisCache) and isinstance(cache_b, RedisCache)
        async with (
            open_price_book(sqlite_db, cache_a, 3600) as a,
            open_price_book(sqlite_db, cache_b, 3600) as b,
        ):
            await seed(sqlite_db, price_row("us-east-1", SONNET, input_price="2"))
            await a.invalidate()
            with trio.fail_after(10):
                while (p := b.prices_for("us-east-1", SONNET)) is None or p.input != 2:
                    await trio.sleep(0.01)
            assert b.statistics().loads >= 2


async def test_periodic_reload_on_fixed_beats(
    sqlite_db: Database, clock: trio.testing.MockClock
) -> None:
    await seed(sqlite_db, price_row("us-east-1", SONNET))
    async with open_price_book(sqlite_db, None, 60) as book:
        start = trio.current_time()
        assert book.statistics().loads == 1
        await seed(sqlite_db, price_row("us-east-1", SONNET, input_price="1"))
        await trio.sleep(59)
        prices = book.prices_for("us-east-1", SONNET)
        assert prices is not None and prices.input == 3
        await trio.sleep_until(start + 60.5)
        prices = book.prices_for("us-east-1", SONNET)
        assert prices is not None and prices.input == 1
        await trio.sleep_until(start + 300.5)
        assert book.statistics().loads == 6


async def test_a_database_down_at_start_prices_nothing_then_recovers(
    sqlite_db: Database, clock: trio.testing.MockClock
) -> None:
    await seed(sqlite_db, price_row("us-east-1", SONNET))

    class FlakyDatabase:
        """The first read fails as if the database were down."""

        calls = 0

        async def read(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == 1:
                raise DatabaseUnavailable("down")
            return await sqlite_db.read(fn, *args, **kwargs)

    book = PriceBook(FlakyDatabase(), None, 300)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(book.run)
        assert book.prices_for("us-east-1", SONNET) is None
        assert book.statistics().failures == 1
        await trio.sleep(5.5)  # retried after RETRY_SECONDS, not after the 300 s beat
        assert book.prices_for("us-east-1", SONNET) is not None
        nursery.cancel_scope.cancel()
    assert await sqlite_db.read(
        lambda c: c.execute(sa.select(sa.func.count()).select_from(model_costs)).scalar_one()
    )


class _SlowFirstRead:
    """A database whose first read returns its (then stale) snapshot only when released."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.release = trio.Event()
        self.first = True

    async def read(self, fn: Any, *args: Any) -> Any:
        result = await self.db.read(fn, *args)
        if self.first:
            self.first = False
            await self.release.wait()
        return result


async def test_a_slow_older_load_never_overwrites_a_newer_one(sqlite_db: Database) -> None:
    """The periodic reload can start before a change commits and finish after the reload the
    change triggered; the older snapshot must not win."""
    slow = _SlowFirstRead(sqlite_db)
    book = PriceBook(db=slow, cache=None, refresh_seconds=3600)  # type: ignore[arg-type]
    row = {
        "region": "us-east-1",
        "model_id": "anthropic.claude-x",
        "model_name": "X",
        "provider": "Anthropic",
        "input_price": Decimal(1),
        "output_price": Decimal(2),
    }
    async with trio.open_nursery() as nursery:
        nursery.start_soon(book.reload)  # the older load reads the table before the change
        await trio.testing.wait_all_tasks_blocked()
        await sqlite_db.write(upsert_costs, [row], overwrite=True, now=datetime.now(UTC))
        await book.reload()  # the newer load, started after the change committed
        slow.release.set()  # now the older load finishes, last
    assert book.prices_for("us-east-1", "anthropic.claude-x") is not None
