"""Make a SQLite database file refuse writes, even for root, and undo it."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def read_only_sqlite(db_file: Path) -> Iterator[None]:
    """The database file and its WAL refuse writes inside the block.

    Root ignores file modes, so as root the immutable attribute is used (chattr +i). The
    shared-memory file (-shm) stays writable: SQLite maps it and dies of SIGBUS otherwise.
    """
    files = [p for p in (db_file, Path(f"{db_file}-wal")) if p.exists()]
    if os.geteuid() == 0:
        for path in files:
            subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            for path in files:
                subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        modes = {path: path.stat().st_mode for path in files}
        for path in files:
            path.chmod(0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
