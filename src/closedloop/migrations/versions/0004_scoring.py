"""scoring: run summary and status, history columns of person scores, currency rates,
report snapshots

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-22 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("score_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", _JSON, nullable=True))
        batch_op.add_column(sa.Column("progress", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("message", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_score_runs_status_as_of", ["status", "as_of"], unique=False)

    with op.batch_alter_table("person_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revenue", sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column("purchase_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_purchase_on", sa.Date(), nullable=True))

    op.create_table(
        "currency_rates",
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("base_currency", "currency", name=op.f("pk_currency_rates")),
    )
    op.create_table(
        "report_snapshots",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["score_runs.id"],
            name=op.f("fk_report_snapshots_run_id_score_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_snapshots")),
    )
    with op.batch_alter_table("report_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_snapshots_kind_created", ["kind", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("report_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_report_snapshots_kind_created")
    op.drop_table("report_snapshots")
    op.drop_table("currency_rates")
    with op.batch_alter_table("person_scores", schema=None) as batch_op:
        batch_op.drop_column("first_purchase_on")
        batch_op.drop_column("purchase_days")
        batch_op.drop_column("revenue")
    with op.batch_alter_table("score_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_score_runs_status_as_of")
        batch_op.drop_column("created_by")
        batch_op.drop_column("error")
        batch_op.drop_column("message")
        batch_op.drop_column("progress")
        batch_op.drop_column("summary")
