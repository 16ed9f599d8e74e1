"""ingest: warnings beside rejects (issue 12: one bad optional field no longer loses a row)

A row kept without one of its values (an invalid phone, an impossible birth date) is
reported with a warning, stored with the rejects and told apart by ``severity``.

Revision ID: 0012
Revises: 0001
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0003"


def upgrade() -> None:
    with op.batch_alter_table("import_rejects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("severity", sa.String(length=8), server_default="error", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("import_rejects", schema=None) as batch_op:
        batch_op.drop_column("severity")
