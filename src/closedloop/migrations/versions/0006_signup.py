"""signup: public sign-up forms and their pending (double opt-in) requests

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-22 11:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_NOW = sa.text("(CURRENT_TIMESTAMP)")


def upgrade() -> None:
    op.create_table(
        "signup_forms",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("intro", sa.Text(), nullable=True),
        sa.Column("topics", _JSON, nullable=False),
        sa.Column("channels", _JSON, nullable=False),
        sa.Column("proof_text", sa.Text(), nullable=False),
        sa.Column("proof_version", sa.String(length=32), nullable=False),
        sa.Column("confirm_subject", sa.String(length=200), nullable=False),
        sa.Column("confirm_body", sa.Text(), nullable=False),
        sa.Column("redirect_url", sa.String(length=500), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_forms")),
        sa.UniqueConstraint("slug", name=op.f("uq_signup_forms_slug")),
    )
    op.create_table(
        "signup_requests",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("form_id", _ID, nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("topics", _JSON, nullable=False),
        sa.Column("channels", _JSON, nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["signup_forms.id"],
            name=op.f("fk_signup_requests_form_id_signup_forms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_signup_requests_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_requests")),
    )
    op.create_index(
        op.f("ix_signup_requests_form_id"), "signup_requests", ["form_id"], unique=False
    )
    op.create_index(
        "ix_signup_requests_person_requested",
        "signup_requests",
        ["person_id", "requested_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_signup_requests_person_requested", table_name="signup_requests")
    op.drop_index(op.f("ix_signup_requests_form_id"), table_name="signup_requests")
    op.drop_table("signup_requests")
    op.drop_table("signup_forms")
