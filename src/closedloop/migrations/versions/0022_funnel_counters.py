"""funnel counters: per campaign, cell and wave, what its messages and responses add up to
(kept by the sender and the capture; a report reads them instead of a million rows), and the
index that counts a wave's members per cell without reading the messages

Revision ID: 0022
Revises: 0001
Create Date: 2026-12-07 15:30:00
"""

# The backfill is built from constants of this file only (no input reaches it).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0020", "0021")

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COUNTS = ("contacted", "delivered", "costed", "opened", "clicked", "responded")


CONTACTED = "'sent', 'delivered', 'bounced', 'unconfirmed'"
DELIVERED = "'sent', 'delivered'"
RESPONDING = (
    "'attendance', 'call', 'click', 'delivery', 'purchase', 'reply', 'rsvp', 'survey', 'visit'"
)


def _cell(table: str) -> str:
    return (
        f"COALESCE({table}.cell_id, (SELECT m.cell_id FROM campaign_members m "
        f"WHERE m.campaign_id = {table}.campaign_id AND m.person_id = {table}.person_id))"
    )


def _by(scope: int, table: str) -> str:
    # a constant in GROUP BY would name a column by its position
    return f", COALESCE({table}.wave_id, 0)" if scope else ""


def _messages(scope: int) -> str:
    if scope == 0:
        wave = "0"
        contacted = f"COUNT(DISTINCT CASE WHEN c.status IN ({CONTACTED}) THEN c.person_id END)"
        delivered = f"COUNT(DISTINCT CASE WHEN c.status IN ({DELIVERED}) THEN c.person_id END)"
    else:
        wave = "COALESCE(c.wave_id, 0)"
        contacted = f"COUNT(CASE WHEN c.status IN ({CONTACTED}) THEN c.id END)"
        delivered = f"COUNT(CASE WHEN c.status IN ({DELIVERED}) THEN c.id END)"
    return (
        f"SELECT c.campaign_id AS campaign_id, {scope} AS scope, {_cell('c')} AS cell_id, "
        f"{wave} AS wave_id, {contacted} AS contacted, {delivered} AS delivered, "
        f"SUM(CASE WHEN c.status IN ({CONTACTED}) THEN CAST(c.cost AS FLOAT) END) AS cost, "
        f"COUNT(CASE WHEN c.status IN ({CONTACTED}) THEN c.cost END) AS costed, "
        "0 AS opened, 0 AS clicked, 0 AS responded, 0 AS responses "
        "FROM communications c WHERE c.campaign_id IS NOT NULL "
        f"GROUP BY c.campaign_id, {_cell('c')}{_by(scope, 'c')}"
    )


def _responses(scope: int) -> str:
    wave = "0" if scope == 0 else "COALESCE(r.wave_id, 0)"
    return (
        f"SELECT r.campaign_id, {scope}, {_cell('r')}, {wave}, 0, 0, 0.0, 0, "
        "COUNT(DISTINCT CASE WHEN r.kind = 'open' THEN r.person_id END), "
        "COUNT(DISTINCT CASE WHEN r.kind = 'click' THEN r.person_id END), "
        f"COUNT(DISTINCT CASE WHEN r.kind IN ({RESPONDING}) THEN r.person_id END), "
        f"COUNT(CASE WHEN r.kind IN ('open', {RESPONDING}) THEN r.id END) "
        "FROM responses r WHERE r.campaign_id IS NOT NULL AND r.machine IS NULL "
        f"AND r.person_id IS NOT NULL GROUP BY r.campaign_id, {_cell('r')}{_by(scope, 'r')}"
    )


BACKFILL = (
    "INSERT INTO funnel_counts (campaign_id, scope, cell_id, wave_id, contacted, delivered, "
    "cost, costed, opened, clicked, responded, responses) "
    "SELECT campaign_id, scope, cell_id, wave_id, SUM(contacted), SUM(delivered), "
    "COALESCE(SUM(cost), 0), SUM(costed), SUM(opened), SUM(clicked), SUM(responded), "
    "SUM(responses) FROM ("
    + " UNION ALL ".join([_messages(0), _messages(1), _responses(0), _responses(1)])
    + ") AS counted WHERE cell_id IS NOT NULL GROUP BY campaign_id, scope, cell_id, wave_id"
)


def upgrade() -> None:
    op.create_table(
        "funnel_counts",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("scope", sa.SmallInteger(), nullable=False),
        sa.Column("cell_id", ID, nullable=False),
        sa.Column("wave_id", ID, nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNTS[:2]),
        sa.Column("cost", sa.Float(), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNTS[2:]),
        # added here on 2026-12-07 evening with migration 0026 (which adds it to the stores
        # already at 0022): alembic could not order a migration depending on this one
        sa.Column("responses", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "scope", "cell_id", "wave_id"),
    )
    # wave-first: led by campaign_id, SQLite's planner took it for the buyers' messages and
    # scanned the campaign once per buyer
    op.create_index(
        "ix_communications_wave_cell_status", "communications", ["wave_id", "cell_id", "status"]
    )
    # the campaigns already sent: their counters counted from their rows, as
    # ``closedloop evaluation rebuild-counters`` does (closedloop.campaigns.counters)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_communications_wave_cell_status", table_name="communications")
    op.drop_table("funnel_counts")
