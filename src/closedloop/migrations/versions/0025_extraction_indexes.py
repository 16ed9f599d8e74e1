"""extraction writes less: drop ix_communications_wave_id, the prefix of four indexes that
lead with wave_id (wave_status_id, wave_person, wave_sent, wave_cell_status), so every
lookup by wave (and the foreign key's ON DELETE SET NULL) still has an index; one b-tree
fewer to update for each message extraction queues (issue 17)

Revision ID: 0025
Revises: 0001
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_communications_wave_id", table_name="communications")


def downgrade() -> None:
    op.create_index("ix_communications_wave_id", "communications", ["wave_id"], unique=False)
