"""Progress of long CLI runs: a bar on a terminal, plain lines otherwise (logs, cron mail)."""

from __future__ import annotations

from typing import TextIO

import trio

BAR_WIDTH = 30
LINE_EVERY_SECONDS = 10.0


class TerminalProgress:
    """Renders `actors.jobs.progress.Progress` on `stream` (normally stderr)."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self.started = 0.0
        self.last_line = 0.0
        self.last_percent = -1

    def begin(self, label: str, total: int | None) -> None:
        """A phase starts."""
        self.label, self.total, self.done = label, total, 0
        self.started = self.last_line = trio.current_time()
        self.last_percent = -1
        if not self.tty:
            expected = "" if total is None else f" ({total} to do)"
            self._line(f"{label}: started{expected}")
        else:
            self._draw()

    def advance(self, units: int) -> None:
        """More is done."""
        self.done += units
        if self.tty:
            self._draw()
            return
        now = trio.current_time()
        percent = self._percent()
        step = percent is not None and percent // 10 > self.last_percent // 10
        if step or now - self.last_line >= LINE_EVERY_SECONDS:
            self.last_line = now
            self.last_percent = percent if percent is not None else self.last_percent
            self._line(f"{self.label}: {self._count()}")

    def end(self, summary: str) -> None:
        """The phase is over."""
        elapsed = trio.current_time() - self.started
        if self.tty:
            self._draw()
            self.stream.write("\n")
        self._line(f"{self.label}: {summary} in {elapsed:.1f}s")

    def _percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, self.done * 100 // self.total)

    def _count(self) -> str:
        percent = self._percent()
        if percent is None:
            return f"{self.done}"
        return f"{self.done}/{self.total} ({percent}%)"

    def _draw(self) -> None:
        percent = self._percent()
        if percent is None:
            text = f"\r{self.label}: {self.done}"
        else:
            filled = BAR_WIDTH * percent // 100
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            text = f"\r{self.label} [{bar}] {self._count()}"
        self.stream.write(text)
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
