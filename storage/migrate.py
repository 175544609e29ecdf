"""Schema migrations through Alembic, safe to run from several processes at once.

Each run holds one transaction for its whole duration: `BEGIN IMMEDIATE` on SQLite (the
database's write lock) and a transaction-scoped advisory lock on PostgreSQL, so a second
`init` waits for the first and then finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from storage.errors import MigrationError

SCRIPT_LOCATION = "storage:migrations"
ADVISORY_LOCK_KEY = 0x0BED_0C05  # any constant shared by every instance of this service


@attrs.frozen
class MigrationStatus:
    """Where the database is and where the code expects it to be."""

    current: str | None
    head: str
    pending: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        """True when no migration is pending."""
        return not self.pending


def _alembic_config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = conn
    return config


def _locked(engine: Engine, fn: Callable[[Connection, Config], Any]) -> Any:
    with engine.connect().execution_options(bedrock_write=True) as conn:
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
            result = fn(conn, _alembic_config(conn))
        return result


def upgrade(
    engine: Engine, revision: str = "head", *, also: Callable[[Connection], Any] | None = None
) -> None:
    """Apply migrations up to `revision`; `also(conn)` runs in the same locked transaction."""

    def run(conn: Connection, config: Config) -> None:
        command.upgrade(config, revision)
        if also is not None:
            also(conn)

    try:
        _locked(engine, run)
    except sa.exc.SQLAlchemyError as exc:
        raise MigrationError(f"migration failed: {str(getattr(exc, 'orig', exc))[:300]}") from exc


def downgrade(engine: Engine, steps: int = 1) -> None:
    """Roll back `steps` migrations (to the empty schema at most)."""
    if steps < 1:
        raise MigrationError("downgrade needs at least one step")

    def run(conn: Connection, config: Config) -> None:
        current = MigrationContext.configure(conn).get_current_revision()
        if current is None:
            raise MigrationError("nothing to downgrade: the database has no schema")
        command.downgrade(config, f"-{steps}" if _depth(config, current) > steps else "base")

    _locked(engine, run)


def _depth(config: Config, revision: str) -> int:
    script = ScriptDirectory.from_config(config)
    return sum(1 for _ in script.iterate_revisions(revision, "base"))


def status(engine: Engine) -> MigrationStatus:
    """The current revision, the head, and what is pending (oldest first)."""
    with engine.connect().execution_options(bedrock_write=False) as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        script = ScriptDirectory.from_config(_alembic_config(conn))
    head = script.get_current_head()
    if head is None:
        raise MigrationError("no migrations found")
    pending = [rev.revision for rev in script.iterate_revisions(head, current or "base")]
    return MigrationStatus(current=current, head=head, pending=tuple(reversed(pending)))


def require_current(engine: Engine) -> None:
    """Raise `MigrationError` unless the schema is at head (for `migration_on_startup: false`)."""
    state = status(engine)
    if not state.up_to_date:
        raise MigrationError(
            f"database schema is at {state.current or 'nothing'}, code expects {state.head}:"
            " run `bedrock-proxy init` (or `bedrock-proxy migrate up`)"
        )
