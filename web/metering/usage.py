"""The usage service: what the JSON API and the web UI ask about usage, answered exactly.

Records are read newest first with keyset cursors; CSV exports stream page by page from a
worker thread (never the whole result in memory); summaries and stats are planned
summaries-first over the stored roll-ups (see storage/repos/usage_queries.py).
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from datetime import datetime
from typing import Any, cast

import attrs

from actors.config import JobsConfig
from actors.jobs.summaries import coverage_for
from proxy.metering import Period, Totals, period_floor, period_next
from storage.database import Database
from storage.repos import usage_queries as repo
from storage.repos import users as users_repo
from storage.repos.usage_queries import AggregateQuery, Cursor, RecordFilter
from web.auth.errors import InvalidInput
from web.metering.views import CSV_COLUMNS, csv_cells, record_json, totals_json

CSV_PAGE = 2000


def encode_cursor(cursor: Cursor) -> str:
    """An opaque, URL-safe cursor."""
    raw = json.dumps([cursor.requested_at.isoformat(), cursor.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """The cursor `encode_cursor` made; `InvalidInput` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        when, ident = json.loads(raw)
        at = datetime.fromisoformat(when)
        if at.tzinfo is None or not isinstance(ident, int) or ident < 0:
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidInput("cursor is not one this API returned (use next_cursor as is)") from None
    return Cursor(at, ident)


@attrs.frozen
class RecordsPage:
    """One page of records, newest first, and the cursor of the next page (None: last)."""

    records: list[dict[str, Any]]
    next_cursor: str | None


@attrs.frozen
class Group:
    """Totals of one group: a period bucket and/or a model and/or a user."""

    totals: Totals
    period_start: datetime | None = None
    period_end: datetime | None = None
    model_id: str | None = None
    user_id: int | None = None
    email: str | None = None

    def json(self) -> dict[str, Any]:
        """JSON-ready, keys present only when they are part of the grouping."""
        out: dict[str, Any] = {}
        if self.period_start is not None:
            out["period_start"] = self.period_start.isoformat()
        if self.period_end is not None:
            out["period_end"] = self.period_end.isoformat()
        if self.model_id is not None:
            out["model_id"] = self.model_id
        if self.user_id is not None:
            out["user_id"] = self.user_id
            out["email"] = self.email
        out.update(totals_json(self.totals))
        return out


@attrs.frozen
class Stats:
    """Totals over a range, by model, by day (UTC) and, for admins, by user."""

    start: datetime
    end: datetime
    totals: Totals
    by_model: list[Group]
    by_day: list[Group]
    by_user: list[Group] | None

    def json(self) -> dict[str, Any]:
        """JSON-ready."""
        out: dict[str, Any] = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "totals": totals_json(self.totals),
            "by_model": [g.json() for g in self.by_model],
            "by_day": [
                {"date": g.period_start.date().isoformat(), **g.json()}
                for g in self.by_day
                if g.period_start is not None
            ],
        }
        if self.by_user is not None:
            out["by_user"] = [g.json() for g in self.by_user]
        return out


@attrs.frozen
class UsageService:
    """Usage queries for one user (`user_id`) or, for admins, everyone (`user_id=None`)."""

    db: Database
    jobs: JobsConfig
    now: Callable[[], datetime]

    async def records(
        self, f: RecordFilter, *, limit: int, cursor: Cursor | None = None, offset: int = 0
    ) -> RecordsPage:
        """A page of records matching `f`, newest first."""
        rows = await self.db.read(
            repo.list_records, f, limit=limit + 1, after=cursor, offset=offset
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = None
        if more and rows:
            next_cursor = encode_cursor(Cursor(rows[-1]["requested_at"], rows[-1]["id"]))
        return RecordsPage([record_json(r) for r in rows], next_cursor)

    async def count(self, f: RecordFilter) -> int:
        """How many records match `f` (for page counts in the UI)."""
        return await self.db.read(repo.count_records, f)

    async def records_csv(
        self, f: RecordFilter, page_size: int | None = None
    ) -> AsyncIterator[bytes]:
        """Every record matching `f` as CSV, newest first, fetched `page_size` rows at a time
        (default `CSV_PAGE`): memory holds one page, whatever the size of the export."""
        page_size = page_size or CSV_PAGE
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        yield _drain(out)
        cursor: Cursor | None = None
        while True:
            rows = await self.db.read(repo.list_records, f, limit=page_size, after=cursor)
            if not rows:
                return
            for row in rows:
                writer.writerow(csv_cells(row))
            yield _drain(out)
            if len(rows) < page_size:
                return
            cursor = Cursor(rows[-1]["requested_at"], rows[-1]["id"])

    async def aggregate(self, q: AggregateQuery) -> dict[Any, Totals]:
        """Totals per (bucket, model, user or None) (see `storage.repos.usage_queries`)."""
        return await self.db.read(repo.aggregate, q)

    def _query(
        self,
        start: datetime,
        end: datetime,
        granularity: Period,
        user_id: int | None,
        model_id: str | None,
        by_user: bool,
    ) -> AggregateQuery:
        return AggregateQuery(
            start=start,
            end=end,
            granularity=granularity,
            coverage=coverage_for(self.jobs, self.now()),
            user_id=user_id,
            model_id=model_id,
            by_user=by_user,
        )

    async def summaries(
        self,
        *,
        period: Period,
        start: datetime,
        end: datetime,
        user_id: int | None,
        model_id: str | None = None,
        by_user: bool = False,
    ) -> list[Group]:
        """Totals per (period, model[, user]) over [start, end), oldest period first.

        The first and last periods count only the part of them inside the range.
        """
        groups = await self.aggregate(self._query(start, end, period, user_id, model_id, by_user))
        emails = await self._emails(groups) if by_user else {}
        out = [
            Group(
                totals=totals,
                period_start=bucket,
                period_end=period_next(bucket, period),
                model_id=model,
                user_id=user,
                email=emails.get(user) if user is not None else None,
            )
            for (bucket, model, user), totals in groups.items()
        ]
        out.sort(key=lambda g: (g.period_start, g.model_id, g.user_id or 0))
        return out

    async def stats(
        self,
        *,
        start: datetime,
        end: datetime,
        user_id: int | None,
        model_id: str | None = None,
        by_user: bool = False,
    ) -> Stats:
        """Totals over [start, end), by model, by UTC day and (admins) by user."""
        query = self._query(start, end, "daily", user_id, model_id, by_user)
        found = await self.db.read(repo.aggregate, query, _stats_keys(by_user))
        groups = cast(dict[tuple[Any, ...], Totals], found)
        total = groups.get(("all",), Totals())
        models: dict[str, Totals] = {k[1]: t for k, t in groups.items() if k[0] == "model"}
        days: dict[datetime, Totals] = {k[1]: t for k, t in groups.items() if k[0] == "day"}
        users: dict[int, Totals] = {k[1]: t for k, t in groups.items() if k[0] == "user"}
        emails = await self._emails_of(list(users)) if by_user else {}
        return Stats(
            start=start,
            end=end,
            totals=total,
            by_model=[Group(totals=t, model_id=m) for m, t in sorted(models.items())],
            by_day=[
                Group(totals=t, period_start=d, period_end=period_next(d, "daily"))
                for d, t in sorted(days.items())
            ],
            by_user=[
                Group(totals=t, user_id=u, email=emails.get(u)) for u, t in sorted(users.items())
            ]
            if by_user
            else None,
        )

    async def _emails(self, groups: dict[Any, Totals]) -> dict[int, str]:
        return await self._emails_of([user for _, _, user in groups if user is not None])

    async def _emails_of(self, user_ids: list[int]) -> dict[int, str]:
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        found = await self.db.read(users_repo.get_many, ids)
        return {uid: row.email for uid, row in found.items()}


def _stats_keys(by_user: bool) -> Callable[[datetime, str, int], tuple[Hashable, ...]]:
    """Each row counts in the total, its model, its day and (admins) its user."""
    if by_user:
        return lambda day, model, user: (("all",), ("model", model), ("day", day), ("user", user))
    return lambda day, model, user: (("all",), ("model", model), ("day", day))


def _drain(out: io.StringIO) -> bytes:
    data = out.getvalue().encode("utf-8")
    out.seek(0)
    out.truncate()
    return data


def month_to_date(now: datetime) -> tuple[datetime, datetime]:
    """[first of this month, now) in UTC — for the UI's "this month"."""
    return period_floor(now, "monthly"), now


def summaries_json(
    period: Period, start: datetime, end: datetime, groups: Sequence[Group]
) -> dict[str, Any]:
    """The summaries API body."""
    return {
        "period": period,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "summaries": [g.json() for g in groups],
    }
