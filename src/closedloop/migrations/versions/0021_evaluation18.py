"""evaluation: indexes for a campaign's report (each wave's first and last message; members
counted per cell without reading their rows)

Revision ID: 0021
Revises: 0001
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0019"


def upgrade() -> None:
    op.create_index("ix_communications_wave_sent", "communications", ["wave_id", "sent_at"])
    op.create_index(
        "ix_campaign_members_campaign_cell", "campaign_members", ["campaign_id", "cell_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_members_campaign_cell", table_name="campaign_members")
    op.drop_index("ix_communications_wave_sent", table_name="communications")
