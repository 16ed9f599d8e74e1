"""responses: captured reactions (hits, machine filter, pending reference, wave and cell) and
survey questions with scales and catalogue attributes

A response may arrive before the send it answers is recorded (an SMS delivery report naming a
provider id not yet written, a bounce for a Message-ID of another system): it is kept with
``ref`` and no person, and linked when the communication is known. ``dedupe_key`` makes the
same open or click counted (``hits``) instead of stored twice.

Revision ID: 0020
Revises: 0001
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch:
        batch.alter_column("person_id", existing_type=_ID, nullable=True)
        batch.add_column(sa.Column("wave_id", _ID, nullable=True))
        batch.add_column(sa.Column("cell_id", _ID, nullable=True))
        batch.add_column(sa.Column("hits", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("last_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("machine", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("dedupe_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("ref", sa.String(length=200), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_responses_wave_id_waves"),
            "waves",
            ["wave_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            batch.f("fk_responses_cell_id_cells"),
            "cells",
            ["cell_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_unique_constraint(batch.f("uq_responses_dedupe_key"), ["dedupe_key"])
        batch.create_index(batch.f("ix_responses_ref"), ["ref"], unique=False)
        batch.create_index("ix_responses_cell_kind", ["cell_id", "kind"], unique=False)
    with op.batch_alter_table("surveys", schema=None) as batch:
        batch.add_column(sa.Column("intro", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("survey_questions", schema=None) as batch:
        batch.add_column(sa.Column("code", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("min_value", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_value", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("attribute_code", sa.String(length=64), nullable=True))
    with op.batch_alter_table("survey_answers", schema=None) as batch:
        batch.create_index(batch.f("ix_survey_answers_response_id"), ["response_id"])


def downgrade() -> None:
    with op.batch_alter_table("survey_answers", schema=None) as batch:
        batch.drop_index(batch.f("ix_survey_answers_response_id"))
    with op.batch_alter_table("survey_questions", schema=None) as batch:
        for name in ("attribute_code", "required", "max_value", "min_value", "code"):
            batch.drop_column(name)
    with op.batch_alter_table("surveys", schema=None) as batch:
        batch.drop_column("active")
        batch.drop_column("intro")
    with op.batch_alter_table("responses", schema=None) as batch:
        batch.drop_index("ix_responses_cell_kind")
        batch.drop_index(batch.f("ix_responses_ref"))
        batch.drop_constraint(batch.f("uq_responses_dedupe_key"), type_="unique")
        batch.drop_constraint(batch.f("fk_responses_cell_id_cells"), type_="foreignkey")
        batch.drop_constraint(batch.f("fk_responses_wave_id_waves"), type_="foreignkey")
        for name in ("ref", "dedupe_key", "machine", "last_at", "hits", "cell_id", "wave_id"):
            batch.drop_column(name)
        batch.alter_column("person_id", existing_type=_ID, nullable=False)
