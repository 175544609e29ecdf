"""Schema migrations through Alembic, safe to run from several processes at once.

Each run holds one transaction for its whole duration: `BEGIN IMMEDIATE` on SQLite (the
database's write lock) and a transaction-scoped advisory lock on PostgreSQL, so a second
`init` waits for the first and then finds nothing to do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from storage.errors import MigrationError

if TYPE_CHECKING:  # Alembic (~12 MiB) is imported only when there is migration work
    from alembic.config import Config

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
    from alembic.config import Config

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
        from alembic import command

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
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        current = MigrationContext.configure(conn).get_current_revision()
        if current is None:
            raise MigrationError("nothing to downgrade: the database has no schema")
        command.downgrade(config, f"-{steps}" if _depth(config, current) > steps else "base")

    _locked(engine, run)


def _depth(config: Config, revision: str) -> int:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    return sum(1 for _ in script.iterate_revisions(revision, "base"))


def status(engine: Engine) -> MigrationStatus:
    """The current revision, the head, and what is pending (oldest first)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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
    if is_current(engine):
        return
    state = status(engine)
    if not state.up_to_date:
        raise MigrationError(
            f"database schema is at {state.current or 'nothing'}, code expects {state.head}:"
            " run `bedrock-proxy init` (or `bedrock-proxy migrate up`)"
        )


_REVISION_LINE = re.compile(r'^(down_revision|revision)\s*=\s*(None|"[^"]*"|\'[^\']*\')', re.M)


def head_from_files() -> str:
    """The head revision, read from the migration files without importing Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for entry in resources.files("storage.migrations.versions").iterdir():
        if not entry.name.endswith(".py") or entry.name.startswith("__"):
            continue
        found = dict(_REVISION_LINE.findall(entry.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"].strip("\"'"))
        if found.get("down_revision", "None") != "None":
            parents.add(found["down_revision"].strip("\"'"))
    heads = revisions - parents
    if len(heads) != 1:
        raise MigrationError(f"expected one head revision, found {sorted(heads)}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the database (None when it has no schema), by plain SQL."""
    with engine.connect().execution_options(bedrock_write=False) as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def is_current(engine: Engine) -> bool:
    """True when the database is at the code's head (cheap: no Alembic import)."""
    return current_revision(engine) == head_from_files()
