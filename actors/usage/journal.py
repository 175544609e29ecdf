"""The accountant's append-only journal: usage rows the database could not take yet.

One JSON object per line, appended and fsync'd a batch at a time. Replay reads from a byte
offset onward; once everything is in the database the file is truncated. A torn last line
(the process died mid-write) is skipped; duplicates are harmless (request ids are unique).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

log = logging.getLogger("bedrock.usage")

Row = dict[str, Any]
_DATETIME_FIELDS = ("requested_at",)
_DECIMAL_FIELDS = (
    "cost_usd",
    "price_input",
    "price_output",
    "price_cache_write_5m",
    "price_cache_write_1h",
    "price_cache_read",
)


def encode_row(row: Mapping[str, Any]) -> bytes:
    """One journal line."""

    def default(value: Any) -> str:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        raise TypeError(f"cannot journal {type(value).__name__}")

    return json.dumps(row, default=default, separators=(",", ":")).encode() + b"\n"


def decode_row(line: bytes) -> Row:
    """A journal line back into a row ready for insertion."""
    row: Row = json.loads(line)
    for name in _DATETIME_FIELDS:
        if row.get(name) is not None:
            row[name] = datetime.fromisoformat(row[name])
    for name in _DECIMAL_FIELDS:
        if row.get(name) is not None:
            row[name] = Decimal(row[name])
    return row


@attrs.define(eq=False)
class Journal:
    """A file of rows awaiting the database. All methods block: call them from a worker thread."""

    path: Path
    max_bytes: int
    size: int = 0
    replay_offset: int = 0

    @classmethod
    def open(cls, path: Path, max_bytes: int) -> Journal:
        """Attach to the journal at `path`, creating its directory."""
        path.parent.mkdir(parents=True, exist_ok=True)
        size = path.stat().st_size if path.exists() else 0
        if size:
            size = _cut_torn_tail(path, size)
        return cls(path=path, max_bytes=max_bytes, size=size)

    @property
    def pending(self) -> bool:
        """True while some journaled rows have not been replayed."""
        return self.replay_offset < self.size

    def fits(self, lines: Sequence[bytes]) -> bool:
        """True when appending `lines` keeps the journal within its bound."""
        return self.size + sum(len(line) for line in lines) <= self.max_bytes

    def append(self, lines: Sequence[bytes]) -> None:
        """Append and fsync; the rows are durable when this returns."""
        data = b"".join(lines)
        with self.path.open("ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.size += len(data)

    def read_chunk(self, max_rows: int) -> tuple[list[Row], int]:
        """Up to `max_rows` rows from the replay offset, and the offset after them."""
        rows: list[Row] = []
        offset = self.replay_offset
        with self.path.open("rb") as f:
            f.seek(offset)
            while len(rows) < max_rows:
                line = f.readline()
                if not line:
                    break
                if not line.endswith(b"\n"):
                    log.warning("journal: skipping a torn last line (%d bytes)", len(line))
                    offset += len(line)
                    break
                offset += len(line)
                try:
                    rows.append(decode_row(line))
                except (ValueError, TypeError) as exc:
                    log.error("journal: skipping an unreadable line: %s", exc)
        return rows, offset

    def advance(self, offset: int) -> None:
        """Mark everything before `offset` as in the database; truncate when all of it is."""
        self.replay_offset = offset
        if self.replay_offset >= self.size:
            with self.path.open("r+b") as f:
                f.truncate(0)
                f.flush()
                os.fsync(f.fileno())
            self.size = 0
            self.replay_offset = 0


def _cut_torn_tail(path: Path, size: int) -> int:
    """Drop a partial last line left by a crash mid-append, so new lines start clean."""
    with path.open("r+b") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return size
        keep = 0
        step = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - step)
            f.seek(start)
            block = f.read(end - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        log.warning("journal: dropping a torn last line (%d bytes)", size - keep)
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
        return keep
