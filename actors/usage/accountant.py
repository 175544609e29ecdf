"""The usage accountant: the single writer of usage rows. It never loses one.

Routes send `UsageEvent`s over a bounded channel. The actor prices each event, groups them in
batches (by size and by time) and writes each batch in one transaction. When the database
fails, batches go to the fsync'd journal and are replayed once it answers again (and at the
next start); when the journal is full too, the actor stops reading its channel so senders
wait — backpressure, not loss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import attrs
import sqlalchemy as sa
import trio

from actors.config import UsageConfig
from actors.usage.journal import Journal, Row, encode_row
from proxy.usage import UsageEvent
from storage.database import Database
from storage.errors import DatabaseUnavailable
from storage.repos.usage import write_usage_batch

log = logging.getLogger("bedrock.usage")

_EVENT_FIELDS = tuple(f.name for f in attrs.fields(UsageEvent))
_LIMITS = {
    "model_name": 255,
    "error_type": 128,
    "error_message": 1024,
    "stop_reason": 64,
    "client_session_id": 128,
}


@attrs.frozen
class PriceQuote:
    """Unit prices (USD per million tokens) an event is charged with, and its cost."""

    input: Decimal | None = None
    output: Decimal | None = None
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    cache_read: Decimal | None = None
    cost: Decimal | None = None


Pricer = Callable[[UsageEvent], PriceQuote]


def no_prices(_: UsageEvent) -> PriceQuote:
    """A pricer that knows no prices: every cost is recorded as unknown."""
    return PriceQuote()


@attrs.frozen(eq=False)
class _Flush:
    """Ask the actor to persist everything received so far; `done` is set when it has."""

    done: trio.Event


Message = UsageEvent | _Flush


@attrs.frozen
class AccountantStatistics:
    """What the accountant has done and holds; on /health and Prometheus."""

    queued: int
    written: int
    duplicates: int
    journaled: int
    replayed: int
    failed_batches: int
    rejected: int
    unpriced: int
    journal_bytes: int
    database_available: bool
    backpressure: bool
    last_error: str | None


@attrs.define(eq=False)
class UsageAccountant:
    """The actor. Its state outlives a crash of `run`, so a restart loses nothing."""

    db: Database
    config: UsageConfig
    pricer: Pricer = no_prices
    _send: trio.MemorySendChannel[Message] = attrs.field(init=False)
    _receive: trio.MemoryReceiveChannel[Message] = attrs.field(init=False)
    _flush_waiters: list[trio.Event] = attrs.field(factory=list)
    _journal: Journal = attrs.field(init=False)
    _holding: list[Row] = attrs.field(factory=list)
    _finished: trio.Event = attrs.field(factory=trio.Event)
    _db_up: bool = True
    _next_retry: float = 0.0
    _backoff: float = 0.0
    _backpressure: bool = False
    _written: int = 0
    _duplicates: int = 0
    _journaled: int = 0
    _replayed: int = 0
    _failed_batches: int = 0
    _rejected: int = 0
    _unpriced: int = 0
    _last_error: str | None = None

    def __attrs_post_init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[Message](self.config.queue_size)
        self._journal = Journal.open(Path(self.config.journal_path), self.config.max_journal_bytes)
        if self._journal.pending:
            log.warning(
                "usage journal holds %d bytes from an earlier run; replaying",
                self._journal.size,
            )

    # --- the handle's side -------------------------------------------------------------

    async def record(self, event: UsageEvent) -> None:
        """Queue one event; waits only when both memory and journal are full (backpressure)."""
        await self._send.send(event)

    async def flush(self) -> None:
        """Return once every event recorded before this call is in the database or journal."""
        done = trio.Event()
        await self._send.send(_Flush(done))
        await done.wait()

    def close_intake(self) -> None:
        """No more events will come: the actor drains what it has and finishes."""
        self._send.close()

    async def wait_finished(self) -> None:
        """Return once every queued event is in the database or the journal."""
        await self._finished.wait()

    def statistics(self) -> AccountantStatistics:
        """A snapshot of the counters."""
        return AccountantStatistics(
            queued=self._receive.statistics().current_buffer_used + len(self._holding),
            written=self._written,
            duplicates=self._duplicates,
            journaled=self._journaled,
            replayed=self._replayed,
            failed_batches=self._failed_batches,
            rejected=self._rejected,
            unpriced=self._unpriced,
            journal_bytes=self._journal.size,
            database_available=self._db_up,
            backpressure=self._backpressure,
            last_error=self._last_error,
        )

    def __repr__(self) -> str:
        s = self.statistics()
        return (
            f"<UsageAccountant queued={s.queued} written={s.written} journaled={s.journaled}"
            f" journal_bytes={s.journal_bytes} db_up={s.database_available}>"
        )

    # --- the actor ------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[UsageAccountant]) -> None:
        """Batch, write, journal and replay until the intake is closed and drained."""
        task_status.started(self)
        try:
            while True:
                closed = await self._collect()
                if self._holding:
                    await self._persist()
                self._wake_flushers()
                if self._journal.pending and self._may_try_database():
                    await self._replay_chunk()
                if closed:
                    break
            self._finished.set()
        finally:
            if not self._finished.is_set():
                with trio.CancelScope(shield=True):
                    await self._journal_leftovers()

    async def _collect(self) -> bool:
        """Fill `_holding` up to a batch; True when the intake is closed and empty.

        A flush request ends the batch early; its waiter is woken once the batch is persisted.
        """
        batch = self.config.batch_size
        wake = self._next_retry if self._journal.pending else float("inf")
        if not self._holding:
            with trio.move_on_at(wake):
                try:
                    if self._take(await self._receive.receive()):
                        return False
                except trio.EndOfChannel:
                    return True
            if not self._holding:
                return False
        deadline = trio.current_time() + self.config.flush_interval_seconds
        while len(self._holding) < batch:
            try:
                if self._take(self._receive.receive_nowait()):
                    return False
                continue
            except trio.WouldBlock:
                pass
            except trio.EndOfChannel:
                return True
            with trio.move_on_at(deadline):
                try:
                    if self._take(await self._receive.receive()):
                        return False
                    continue
                except trio.EndOfChannel:
                    return True
            break
        return False

    def _take(self, message: Message) -> bool:
        """Hold an event; True for a flush request (the batch ends here)."""
        if isinstance(message, _Flush):
            self._flush_waiters.append(message.done)
            return True
        self._holding.append(self._row(message))
        return False

    def _wake_flushers(self) -> None:
        for done in self._flush_waiters:
            done.set()
        self._flush_waiters.clear()

    def _row(self, event: UsageEvent) -> Row:
        row: Row = {name: getattr(event, name) for name in _EVENT_FIELDS}
        for name, limit in _LIMITS.items():
            value = row[name]
            if isinstance(value, str) and len(value) > limit:
                row[name] = value[:limit]
        quote = self.pricer(event)
        if quote.cost is None:
            self._unpriced += 1
        row.update(
            cost_usd=quote.cost,
            price_input=quote.input,
            price_output=quote.output,
            price_cache_write_5m=quote.cache_write_5m,
            price_cache_write_1h=quote.cache_write_1h,
            price_cache_read=quote.cache_read,
        )
        return row

    def _may_try_database(self) -> bool:
        return self._db_up or trio.current_time() >= self._next_retry

    async def _persist(self) -> None:
        rows = self._holding
        if self._may_try_database() and await self._write(rows):
            self._written += len(rows)
            self._holding = []
            return
        lines = [encode_row(r) for r in rows]
        while not self._journal.fits(lines):
            # memory and journal are both full: hold the batch, stop reading the channel
            self._backpressure = True
            await trio.sleep_until(self._next_retry)
            if await self._write(rows):
                self._written += len(rows)
                self._holding = []
                self._backpressure = False
                return
        self._backpressure = False
        await self._append_journal(lines)
        self._holding = []

    async def _append_journal(self, lines: list[bytes]) -> None:
        await trio.to_thread.run_sync(self._journal.append, lines)
        self._journaled += len(lines)

    async def _write(self, rows: list[Row]) -> bool:
        """One transaction; True when the rows are in the database."""
        last_used: dict[int, datetime] = {}
        for row in rows:
            key = row["api_key_id"]
            if key is not None and (key not in last_used or last_used[key] < row["requested_at"]):
                last_used[key] = row["requested_at"]
        try:
            inserted = await self.db.write(write_usage_batch, rows, last_used)
        except DatabaseUnavailable as exc:
            self._database_failed(exc)
            return False
        except sa.exc.IntegrityError:
            inserted = await self._write_one_by_one(rows)
        self._duplicates += len(rows) - inserted
        self._database_ok()
        return True

    async def _write_one_by_one(self, rows: list[Row]) -> int:
        """Isolate rows the database refuses (e.g. a user deleted meanwhile); keep them aside."""
        inserted = 0
        for row in rows:
            try:
                inserted += await self.db.write(write_usage_batch, [row], {})
            except sa.exc.IntegrityError as exc:
                self._rejected += 1
                self._last_error = f"row rejected: {str(exc.orig)[:200]}"
                log.error("usage row %s rejected by the database: %s", row["request_id"], exc.orig)
                rejected = Path(f"{self.config.journal_path}.rejected")
                await trio.to_thread.run_sync(_append_line, rejected, encode_row(row))
                inserted += 1  # accounted for: kept in the rejected file
        return inserted

    def _database_failed(self, exc: Exception) -> None:
        self._failed_batches += 1
        self._last_error = str(exc)[:300]
        if self._db_up:
            log.error("usage: database unavailable, journaling: %s", exc)
        self._db_up = False
        self._backoff = min(max(self._backoff * 2, 0.25), self.config.retry_max_seconds)
        self._next_retry = trio.current_time() + self._backoff

    def _database_ok(self) -> None:
        if not self._db_up:
            log.info("usage: database available again")
        self._db_up = True
        self._backoff = 0.0

    async def _replay_chunk(self) -> None:
        rows, offset = await trio.to_thread.run_sync(
            self._journal.read_chunk, self.config.batch_size
        )
        if rows and not await self._write(rows):
            return
        await trio.to_thread.run_sync(self._journal.advance, offset)
        self._replayed += len(rows)
        if not self._journal.pending:
            log.info("usage journal replayed (%d rows in all)", self._replayed)

    async def _journal_leftovers(self) -> None:
        """Cancelled before finishing: whatever is held or queued goes to the journal."""
        rows = list(self._holding)
        while True:
            try:
                message = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            if isinstance(message, _Flush):
                self._flush_waiters.append(message.done)
            else:
                rows.append(self._row(message))
        if rows:
            lines = [encode_row(r) for r in rows]
            await self._append_journal(lines)
            log.warning("usage: %d row(s) kept in the journal for the next start", len(rows))
        self._holding = []
        self._wake_flushers()


def _append_line(path: Path, line: bytes) -> None:
    with path.open("ab") as f:
        f.write(line)
