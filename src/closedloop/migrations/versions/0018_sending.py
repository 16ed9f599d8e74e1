"""campaigns: the send ledger (communications), message templates, seed addresses, send runs

Communications become the send ledger of a wave: attempts, next attempt, a detail, and the
indexes the sender scans (wave, status, id) and checks (wave, person). Campaigns get the
consent purpose their messages need; cells the message template they send.

Revision ID: 0018
Revises: 0001
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _pk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", ID, autoincrement=True, nullable=False)


def _created() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        server_default=sa.text("(CURRENT_TIMESTAMP)"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "message_templates",
        _pk(),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("default_locale", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_message_templates_code_version")),
    )
    op.create_table(
        "message_contents",
        _pk(),
        sa.Column("template_id", ID, nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["message_templates.id"],
            name=op.f("fk_message_contents_template_id_message_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_contents")),
        sa.UniqueConstraint(
            "template_id", "locale", name=op.f("uq_message_contents_template_id_locale")
        ),
    )
    op.create_table(
        "seed_addresses",
        _pk(),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seed_addresses")),
        sa.UniqueConstraint("channel", "address", name=op.f("uq_seed_addresses_channel_address")),
    )
    op.create_table(
        "seed_sends",
        _pk(),
        sa.Column("wave_id", ID, nullable=False),
        sa.Column("cell_id", ID, nullable=False),
        sa.Column("seed_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["waves.id"], name=op.f("fk_seed_sends_wave_id_waves"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["cells.id"], name=op.f("fk_seed_sends_cell_id_cells"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["seed_id"],
            ["seed_addresses.id"],
            name=op.f("fk_seed_sends_seed_id_seed_addresses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seed_sends")),
        sa.UniqueConstraint(
            "wave_id", "cell_id", "seed_id", name=op.f("uq_seed_sends_wave_id_cell_id_seed_id")
        ),
    )
    op.create_index(op.f("ix_seed_sends_seed_id"), "seed_sends", ["seed_id"], unique=False)
    op.create_table(
        "send_runs",
        sa.Column("wave_id", ID, nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["waves.id"], name=op.f("fk_send_runs_wave_id_waves"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("wave_id", name=op.f("pk_send_runs")),
    )
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.String(length=500), nullable=True))
        batch_op.create_index(
            "ix_communications_wave_status_id", ["wave_id", "status", "id"], unique=False
        )
        batch_op.create_index(
            "ix_communications_wave_person", ["wave_id", "person_id"], unique=False
        )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=32), server_default="marketing", nullable=False)
        )
    with op.batch_alter_table("cells", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_id", ID, nullable=True))
        batch_op.create_index(batch_op.f("ix_cells_template_id"), ["template_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_cells_template_id_message_templates"),
            "message_templates",
            ["template_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("cells", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_cells_template_id_message_templates"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_cells_template_id"))
        batch_op.drop_column("template_id")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("purpose")
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.drop_index("ix_communications_wave_person")
        batch_op.drop_index("ix_communications_wave_status_id")
        batch_op.drop_column("detail")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
    op.drop_table("send_runs")
    op.drop_index(op.f("ix_seed_sends_seed_id"), table_name="seed_sends")
    op.drop_table("seed_sends")
    op.drop_table("seed_addresses")
    op.drop_table("message_contents")
    op.drop_table("message_templates")
