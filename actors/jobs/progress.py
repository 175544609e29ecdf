"""How long jobs report progress: a protocol the CLI renders and the scheduler ignores."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives a job's progress; implementations must be cheap (called per batch)."""

    def begin(self, label: str, total: int | None) -> None:
        """A phase starts; `total` units are expected (None: unknown)."""

    def advance(self, units: int) -> None:
        """`units` more are done."""

    def end(self, summary: str) -> None:
        """The phase is over."""


class NoProgress:
    """Progress that goes nowhere (the scheduler's)."""

    def begin(self, label: str, total: int | None) -> None:
        """Ignored."""

    def advance(self, units: int) -> None:
        """Ignored."""

    def end(self, summary: str) -> None:
        """Ignored."""


NO_PROGRESS = NoProgress()
