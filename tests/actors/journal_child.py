"""Child process for the kill test: journal N events while the database refuses writes, then wait
to be killed (SIGKILL, no cleanup)."""

from __future__ import annotations

import sys

import trio

from actors.config import UsageConfig
from actors.usage.accountant import UsageAccountant
from storage.config import DatabaseConfig
from storage.database import open_database
from tests.factories import usage_event


async def main(url: str, journal: str, user: int, count: int) -> None:
    async with open_database(DatabaseConfig(url=url)) as db:
        acct = UsageAccountant(
            db, UsageConfig(journal_path=journal, batch_size=10, flush_interval_seconds=0.01)
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(acct.run)
            for n in range(count):
                await acct.record(usage_event(user, n))
            while acct.statistics().journaled < count:
                await trio.sleep(0.01)
            print(f"journaled {count}", flush=True)
            await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
