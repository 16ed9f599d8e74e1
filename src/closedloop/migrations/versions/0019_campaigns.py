"""campaigns: versions, approval, offer and target, planned volume, cell price and segment

Campaigns get a version (the code is unique per version: editing a running campaign makes a
new one), the version they replace, their offer (the target segment is in the coordination
branch's campaign_targeting), a cost per contact, who
wrote and approved them and when they were launched. Waves get their planned volume; cells a
price and a target segment. The old final state ``finished`` becomes ``completed``.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0016"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(precision=14, scale=2)


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("previous_id", ID, nullable=True))
        batch_op.add_column(sa.Column("offer_id", ID, nullable=True))
        batch_op.add_column(sa.Column("cost_per_contact", MONEY, nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("approved_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint("uq_campaigns_code", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_campaigns_code_version"), ["code", "version"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_campaigns_previous_id_campaigns"),
            "campaigns",
            ["previous_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_campaigns_offer_id_offers"),
            "offers",
            ["offer_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("waves", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected_volume", sa.Integer(), nullable=True))
    with op.batch_alter_table("cells", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price", MONEY, nullable=True))
        batch_op.add_column(sa.Column("segment_id", ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_cells_segment_id_segments"),
            "segments",
            ["segment_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute("UPDATE campaigns SET status = 'completed' WHERE status = 'finished'")
    op.execute("UPDATE waves SET status = 'completed' WHERE status = 'finished'")


def downgrade() -> None:
    op.execute("UPDATE campaigns SET status = 'finished' WHERE status = 'completed'")
    op.execute("UPDATE waves SET status = 'finished' WHERE status = 'completed'")
    with op.batch_alter_table("cells", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cells_segment_id_segments"), type_="foreignkey")
        batch_op.drop_column("segment_id")
        batch_op.drop_column("price")
    with op.batch_alter_table("waves", schema=None) as batch_op:
        batch_op.drop_column("expected_volume")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        for name in ("offer_id_offers", "previous_id_campaigns"):
            batch_op.drop_constraint(batch_op.f(f"fk_campaigns_{name}"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_campaigns_code_version"), type_="unique")
        batch_op.create_unique_constraint("uq_campaigns_code", ["code"])
        for column in (
            "updated_at",
            "launched_at",
            "approved_at",
            "approved_by",
            "created_by",
            "cost_per_contact",
            "offer_id",
            "previous_id",
            "version",
        ):
            batch_op.drop_column(column)
