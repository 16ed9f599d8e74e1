"""contacts: an identifier value may be shared by several persons (issue 12)

Two records that share a national id are the strongest evidence of one person: they are
stored, and identity resolution links them, instead of the import rejecting the second one.
The value stays unique per person (``person_id, scheme, value``) and is looked up by
``(scheme, value)``.

Revision ID: 0011
Revises: 0001
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_identifiers_scheme_value", type_="unique")
        batch_op.create_unique_constraint(
            "uq_identifiers_person_id_scheme_value", ["person_id", "scheme", "value"]
        )
        batch_op.create_index("ix_identifiers_scheme_value", ["scheme", "value"], unique=False)


def downgrade() -> None:
    # Fails, as it should, while two persons share a value: merge or remove them first.
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_identifiers_scheme_value")
        batch_op.drop_constraint("uq_identifiers_person_id_scheme_value", type_="unique")
        batch_op.create_unique_constraint("uq_identifiers_scheme_value", ["scheme", "value"])
