"""`bedrock-proxy init`: migrate to head and seed default prices, safe from several pods at once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import attrs
from sqlalchemy.engine import Connection, Engine

from proxy.pricing import load_default_costs
from storage import migrate
from storage.repos.costs import cost_row_values, upsert_costs

log = logging.getLogger("bedrock.init")


@attrs.define
class InitReport:
    """What `init` did."""

    revision: str | None = None
    costs_added: int = 0
    costs_updated: int = 0
    costs_skipped: bool = False


def initialise(engine: Engine, skip_costs: bool, force_seed: bool) -> InitReport:
    """Upgrade the schema and, in the same locked transaction, add missing default prices
    (or, with `force_seed`, reset every default price). Prices an admin added stay."""
    report = InitReport(costs_skipped=skip_costs)

    def seed(conn: Connection) -> None:
        if skip_costs:
            return
        rows = [cost_row_values(r) for r in load_default_costs()]
        added, updated = upsert_costs(conn, rows, overwrite=force_seed, now=datetime.now(UTC))
        report.costs_added, report.costs_updated = added, updated

    if migrate.is_current(engine):
        # nothing to migrate: seed in a plain write transaction (concurrent seeders are safe:
        # conflicts resolve in the database), and leave Alembic unimported
        with engine.connect().execution_options(bedrock_write=True) as conn, conn.begin():
            seed(conn)
    else:
        migrate.upgrade(engine, also=seed)
    report.revision = migrate.current_revision(engine)
    log.info(
        "database at revision %s; prices added=%d updated=%d",
        report.revision,
        report.costs_added,
        report.costs_updated,
    )
    return report
