"""coordination: campaign targeting, pressure rules, channel capacities, the global hold-out,
extraction exclusions (the funnel) and the lock row of the serialised extraction

Revision ID: 0023
Revises: 0001
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0016"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _created(name: str = "created_at") -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("(CURRENT_TIMESTAMP)"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "campaign_targeting",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("segment_id", ID, nullable=True),
        sa.Column("one_per_household", sa.Boolean(), nullable=False),
        sa.Column("stratify_by_tier", sa.Boolean(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("expected_value", sa.Float(), nullable=False),
        sa.Column("ab_test_share", sa.Float(), nullable=True),
        sa.Column("ab_metric", sa.String(length=16), nullable=True),
        sa.Column("ab_decide_after_hours", sa.Float(), nullable=True),
        sa.Column("ab_winner_cell_id", ID, nullable=True),
        sa.Column("ab_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_targeting_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_campaign_targeting_segment_id_segments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ab_winner_cell_id"],
            ["cells.id"],
            name=op.f("fk_campaign_targeting_ab_winner_cell_id_cells"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_targeting")),
    )
    op.create_index(op.f("ix_campaign_targeting_segment_id"), "campaign_targeting", ["segment_id"])
    op.create_table(
        "pressure_rules",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("max_messages", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("min_gap_hours", sa.Float(), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pressure_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_pressure_rules_name")),
    )
    op.create_table(
        "channel_capacities",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("max_messages", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_capacities")),
    )
    op.create_table(
        "global_holdout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("percentage", sa.Float(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        _created("set_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_global_holdout")),
    )
    op.create_table(
        "extraction_exclusions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("wave_id", ID, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        _created(),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["waves.id"],
            name=op.f("fk_extraction_exclusions_wave_id_waves"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_extraction_exclusions_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extraction_exclusions")),
    )
    op.create_index(
        "ix_extraction_exclusions_wave_stage", "extraction_exclusions", ["wave_id", "stage"]
    )
    op.create_index(
        op.f("ix_extraction_exclusions_person_id"), "extraction_exclusions", ["person_id"]
    )
    op.create_table(
        "coordination_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_lock")),
    )


def downgrade() -> None:
    op.drop_table("coordination_lock")
    op.drop_index(op.f("ix_extraction_exclusions_person_id"), table_name="extraction_exclusions")
    op.drop_index("ix_extraction_exclusions_wave_stage", table_name="extraction_exclusions")
    op.drop_table("extraction_exclusions")
    op.drop_table("global_holdout")
    op.drop_table("channel_capacities")
    op.drop_table("pressure_rules")
    op.drop_index(op.f("ix_campaign_targeting_segment_id"), table_name="campaign_targeting")
    op.drop_table("campaign_targeting")
