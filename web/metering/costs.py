"""The cost service: the admin's view of model prices (list, edit, upload, export).

Every change is one transaction that also appends its audit entry, and is followed by a
price-book invalidation so every instance prices new requests with it at once. Rows are
validated by exactly the rules of the CSV table (`proxy.pricing.parse_costs_csv`), whether
they come from an upload or from one JSON edit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from sqlalchemy.engine import Connection

from actors.pricing import PriceBook, cost_row
from proxy.pricing import COST_COLUMNS, CostRow, format_costs_csv, parse_costs_csv
from storage.database import Database
from storage.repos import costs as repo
from web.auth.audit import AuditEvent
from web.auth.errors import InvalidInput

PRICE_FIELDS = COST_COLUMNS[4:]
EDITABLE_FIELDS = frozenset({"model_name", "provider", *PRICE_FIELDS})


def validate_edit(region: str, model_id: str, body: Mapping[str, Any]) -> CostRow:
    """One price row from a JSON edit, checked by the CSV rules; `InvalidInput` says why not.

    Prices may be JSON strings or numbers (parsed as exact decimals); cache prices and the
    names may be omitted or null.
    """
    unknown = sorted(set(body) - EDITABLE_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(EDITABLE_FIELDS))
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}; allowed: {allowed}")
    cells = [region, model_id]
    for name in COST_COLUMNS[2:]:
        value = body.get(name)
        if value is None:
            cells.append("")
        elif isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvalidInput(f"{name} must be a string or a number")
        else:
            cells.append(str(value))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COST_COLUMNS)
    writer.writerow(cells)
    rows, rejected = parse_costs_csv(out.getvalue())
    if rejected:
        raise InvalidInput(rejected[0][1])
    return rows[0]


@attrs.frozen
class UploadReport:
    """The outcome of a CSV upload: keys added/updated/unchanged, and rejected lines."""

    added: list[tuple[str, str]]
    updated: list[tuple[str, str]]
    unchanged: list[tuple[str, str]]
    rejected: list[tuple[int, str]]
    applied: bool

    def json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "applied": self.applied,
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected],
            "changes": {
                "added": [{"region": r, "model_id": m} for r, m in self.added],
                "updated": [{"region": r, "model_id": m} for r, m in self.updated],
            },
        }


@attrs.frozen
class CostService:
    """Model prices for admins; `prices` (when given) is told about every change."""

    db: Database
    now: Callable[[], datetime]
    prices: PriceBook | None = None

    async def list(
        self,
        *,
        region: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of price rows and the number matching."""
        return await self.db.read(
            repo.query_costs,
            region=region,
            model=model,
            provider=provider,
            limit=limit,
            offset=offset,
        )

    async def get(self, region: str, model_id: str) -> dict[str, Any] | None:
        """One price row, or None."""
        return await self.db.read(repo.get_cost, region, model_id)

    async def put(
        self, row: CostRow, audit: Callable[[dict[str, Any]], AuditEvent] | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Create or replace one price row; returns it and whether it was created."""
        now = self.now()

        def write(conn: Connection) -> tuple[dict[str, Any], bool]:
            changes = repo.apply_costs(conn, [repo.cost_row_values(row)], now=now)
            saved = repo.get_cost(conn, row.region, row.model_id)
            assert saved is not None
            if audit is not None and not changes.unchanged:
                audit(
                    {
                        "action": "cost_created" if changes.added else "cost_updated",
                        "region": row.region,
                        "model_id": row.model_id,
                    }
                ).write(conn, now)
            return saved, bool(changes.added)

        result = await self.db.write(write)
        await self._invalidate()
        return result

    async def delete(
        self,
        region: str,
        model_id: str,
        audit: Callable[[dict[str, Any]], AuditEvent] | None = None,
    ) -> bool:
        """Delete one price row; False when there was none."""
        now = self.now()

        def write(conn: Connection) -> bool:
            before = repo.delete_cost(conn, region, model_id)
            if before is not None and audit is not None:
                audit({"action": "cost_deleted", "region": region, "model_id": model_id}).write(
                    conn, now
                )
            return before is not None

        deleted = await self.db.write(write)
        if deleted:
            await self._invalidate()
        return deleted

    async def upload(
        self,
        text: str,
        *,
        dry_run: bool = False,
        audit: Callable[[dict[str, Any]], AuditEvent] | None = None,
    ) -> UploadReport:
        """Validate a CSV price table and apply its valid rows in one transaction.

        `InvalidInput` when the header is wrong (nothing is applied); otherwise rejected lines
        are reported with their line numbers and the other rows are applied (unless dry).
        """
        rows, rejected = parse_costs_csv(text)
        if rejected and rejected[0][0] == 1 and not rows:
            raise InvalidInput(f"line 1: {rejected[0][1]}")
        now = self.now()
        values = [repo.cost_row_values(r) for r in rows]

        def write(conn: Connection) -> repo.CostChanges:
            changes = repo.apply_costs(conn, values, now=now)
            if audit is not None and (changes.added or changes.updated):
                audit(
                    {
                        "action": "costs_uploaded",
                        "added": len(changes.added),
                        "updated": len(changes.updated),
                        "rejected": len(rejected),
                    }
                ).write(conn, now)
            return changes

        if dry_run:
            changes = await self.db.read(_preview, values)
        else:
            changes = await self.db.write(write)
        if not dry_run and (changes.added or changes.updated):
            await self._invalidate()
        return UploadReport(
            added=changes.added,
            updated=changes.updated,
            unchanged=changes.unchanged,
            rejected=rejected,
            applied=not dry_run,
        )

    async def export(self) -> str:
        """Every price row as the CSV table `upload` accepts."""
        rows, _ = await self.list()
        return format_costs_csv(cost_row(r) for r in rows)

    async def _invalidate(self) -> None:
        if self.prices is not None:
            await self.prices.invalidate()


def _preview(conn: Connection, values: list[dict[str, Any]]) -> repo.CostChanges:
    """What `apply_costs` would report, without writing (a read transaction)."""
    existing = {(r["region"], r["model_id"]): r for r in repo.list_costs(conn)}
    added: list[tuple[str, str]] = []
    updated: list[tuple[str, str]] = []
    unchanged: list[tuple[str, str]] = []
    for row in values:
        key = (row["region"], row["model_id"])
        old = existing.get(key)
        if old is None:
            added.append(key)
        elif all(old.get(k) == row.get(k) for k in row if k not in ("region", "model_id")):
            unchanged.append(key)
        else:
            updated.append(key)
    return repo.CostChanges(added=added, updated=updated, unchanged=unchanged)
