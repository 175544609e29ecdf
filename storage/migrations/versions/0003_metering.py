"""metering: id watermarks for summaries; usage ids never reused on SQLite

Summaries advance a watermark over `usage_records.id` (see docs/metering.md). On SQLite an
`INTEGER PRIMARY KEY` without AUTOINCREMENT reuses the highest id once that row is deleted
(retention can delete it), which would hide new rows below the watermark; AUTOINCREMENT
makes ids strictly increasing, as PostgreSQL's sequence already does.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_watermarks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_id", sa.BigInteger(), server_default="0", nullable=False)
        )
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "usage_records", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "usage_records", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
    with op.batch_alter_table("job_watermarks", schema=None) as batch_op:
        batch_op.drop_column("last_id")
