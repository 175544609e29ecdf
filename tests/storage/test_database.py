"""The database facade: locking, exact money, UTC times — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
import trio

from storage.database import Database
from storage.errors import DatabaseUnavailable
from storage.schema import model_costs, users
from tests.factories import insert_user


async def test_concurrent_read_then_write_transactions_lose_no_update(db: Database) -> None:
    user_id = await db.write(insert_user)

    def bump(conn: sa.Connection) -> None:
        # repositories lock rows they read-then-write (FOR UPDATE on PostgreSQL; on SQLite
        # the write transaction's BEGIN IMMEDIATE holds the database's write lock already)
        current = conn.execute(
            sa.select(users.c.provider_user_id).where(users.c.id == user_id).with_for_update()
        ).scalar_one()
        value = int(current[1:]) if current.startswith("n") else 0
        conn.execute(
            sa.update(users).where(users.c.id == user_id).values(provider_user_id=f"n{value + 1}")
        )

    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(db.write, bump)
    final = await db.read(
        lambda c: c.execute(
            sa.select(users.c.provider_user_id).where(users.c.id == user_id)
        ).scalar_one()
    )
    assert final == "n50"


async def test_money_is_exact_and_times_are_utc(db: Database) -> None:
    price = Decimal("0.000123456789")
    when = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))

    def insert(conn: sa.Connection) -> None:
        conn.execute(
            sa.insert(model_costs).values(
                region="us-east-1",
                model_id="m",
                input_price=price,
                output_price=Decimal("15"),
                updated_at=when,
            )
        )

    await db.write(insert)
    row = await db.read(lambda c: c.execute(sa.select(model_costs)).one())
    assert row.input_price == price
    assert isinstance(row.input_price, Decimal)
    assert row.updated_at == when
    assert row.updated_at.tzinfo is not None
    assert row.updated_at.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(db: Database) -> None:
    def insert(conn: sa.Connection) -> None:
        conn.execute(
            sa.insert(model_costs).values(
                region="r",
                model_id="m",
                input_price=Decimal(1),
                output_price=Decimal(1),
                updated_at=datetime(2026, 1, 1),
            )
        )

    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        await db.write(insert)


async def test_unreachable_database_raises_database_unavailable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from storage.config import DatabaseConfig
    from storage.database import open_database

    config = DatabaseConfig(url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    async with open_database(config) as database:
        with pytest.raises(DatabaseUnavailable):
            await database.ping()
    assert UTC  # keep the import honest for readers: times are UTC throughout
