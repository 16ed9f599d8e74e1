"""channels: the demo mail catcher's messages (the outbox page)

Revision ID: 0015
Revises: 0001
Create Date: 2026-12-07 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NOW = sa.text("(CURRENT_TIMESTAMP)")


def upgrade() -> None:
    op.create_table(
        "caught_emails",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("mail_from", sa.String(length=320), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=True),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caught_emails")),
    )
    op.create_index("ix_caught_emails_received_at", "caught_emails", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_caught_emails_received_at", table_name="caught_emails")
    op.drop_table("caught_emails")
