"""funnel counters: the number of counted response rows per cell and wave, so that a report
can tell cheaply when responses were written behind the capture's back (a bulk load, an
import of history) and its stored counters are stale

The column is also in migration 0022's table (a store upgraded from before 0022 gets it
there): a migration depending on 0022 broke alembic's bookkeeping of the branches from 0001
(``KeyError: '0001'``), so this one depends on nothing and only adds the column to a table
that lacks it.

Revision ID: 0026
Revises: 0001
Create Date: 2026-12-07 22:00:00
"""

# The backfill is built from constants of this file only (no input reaches it).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import inspect

revision: str = "0026"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = (
    "'attendance', 'call', 'click', 'delivery', 'open', 'purchase', 'reply', 'rsvp', "
    "'survey', 'visit'"
)
CELL = (
    "COALESCE(r.cell_id, (SELECT m.cell_id FROM campaign_members m "
    "WHERE m.campaign_id = r.campaign_id AND m.person_id = r.person_id))"
)
# the rows the capture counts (closedloop.responses.counters.response_counts), per counter row
BACKFILL = (
    "UPDATE funnel_counts SET responses = (SELECT COUNT(*) FROM responses r "
    "WHERE r.campaign_id = funnel_counts.campaign_id AND r.machine IS NULL "
    f"AND r.person_id IS NOT NULL AND r.kind IN ({COUNTED}) "
    f"AND {CELL} = funnel_counts.cell_id "
    "AND (funnel_counts.scope = 0 OR COALESCE(r.wave_id, 0) = funnel_counts.wave_id))"
)


def _missing() -> bool:
    found = inspect(op.get_bind())
    if not found.has_table("funnel_counts"):
        return False  # migration 0022 makes the table, with the column
    return "responses" not in {c["name"] for c in found.get_columns("funnel_counts")}


def upgrade() -> None:
    if not _missing():
        return
    with op.batch_alter_table("funnel_counts") as batch:
        batch.add_column(
            sa.Column("responses", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.execute(BACKFILL)


def downgrade() -> None:
    # the column belongs to migration 0022's table as well: left in place
    pass
