"""contacts: partial organisation_id indexes on emails, phones, addresses, attribute values

Rows of these tables mostly belong to persons (organisation_id NULL); a partial index
(``WHERE organisation_id IS NOT NULL``) serves the same lookups without an entry per person's
row, which an import of persons would otherwise write.

Revision ID: 0010
Revises: 0001
Create Date: 2026-11-22 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("emails", "phones", "addresses", "attribute_values")
WHERE = sa.text("organisation_id IS NOT NULL")


def upgrade() -> None:
    for table in TABLES:
        name = f"ix_{table}_organisation_id"
        op.drop_index(name, table_name=table)
        op.create_index(
            name, table, ["organisation_id"], sqlite_where=WHERE, postgresql_where=WHERE
        )


def downgrade() -> None:
    for table in TABLES:
        name = f"ix_{table}_organisation_id"
        op.drop_index(name, table_name=table)
        op.create_index(name, table, ["organisation_id"])
