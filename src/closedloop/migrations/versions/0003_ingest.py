"""ingest: import batch checkpoints, mapping profiles, rejects, before-images, lineage

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_NOW = sa.text("(CURRENT_TIMESTAMP)")


def upgrade() -> None:
    op.create_table(
        "mapping_profiles",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("columns", _JSON, nullable=False),
        sa.Column("options", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mapping_profiles")),
        sa.UniqueConstraint("name", name=op.f("uq_mapping_profiles_name")),
    )
    op.create_table(
        "source_records",
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("row_hash", sa.String(length=32), nullable=True),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("entity", "entity_id", name=op.f("pk_source_records")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "import_changes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", _ID, nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("data", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_import_changes_batch_id_import_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_changes")),
    )
    op.create_index("ix_import_changes_batch", "import_changes", ["batch_id"], unique=False)
    op.create_index(
        "ix_import_changes_entity", "import_changes", ["entity", "entity_id"], unique=False
    )
    op.create_table(
        "import_rejects",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", _ID, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=True),
        sa.Column("value", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_import_rejects_batch_id_import_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rejects")),
    )
    op.create_index(
        "ix_import_rejects_batch_line", "import_rejects", ["batch_id", "line_no"], unique=False
    )
    op.create_table(
        "value_sources",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=True),
        sa.Column("batch_id", _ID, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_value_sources_batch_id_import_batches"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_value_sources")),
    )
    op.create_index(op.f("ix_value_sources_batch_id"), "value_sources", ["batch_id"], unique=False)
    op.create_index(
        "ix_value_sources_entity",
        "value_sources",
        ["entity", "entity_id", "field"],
        unique=False,
    )
    op.add_column("import_batches", sa.Column("file_sha256", sa.String(length=64), nullable=True))
    op.add_column("import_batches", sa.Column("file_size", sa.BigInteger(), nullable=True))
    op.add_column("import_batches", sa.Column("mapping_name", sa.String(length=64), nullable=True))
    op.add_column("import_batches", sa.Column("options", _JSON, nullable=True))
    op.add_column(
        "import_batches",
        sa.Column("dry_run", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "import_batches",
        sa.Column("rows_done", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("import_batches", sa.Column("owner", sa.String(length=128), nullable=True))
    op.add_column(
        "import_batches", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("import_batches", sa.Column("error", sa.Text(), nullable=True))
    op.add_column(
        "import_batches", sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "import_batches", sa.Column("rolled_back_by", sa.String(length=64), nullable=True)
    )
    op.create_index(
        "ix_import_batches_resume",
        "import_batches",
        ["kind", "source_system", "file_sha256"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_import_batches_resume", table_name="import_batches")
    with op.batch_alter_table("import_batches") as batch:
        for column in (
            "rolled_back_by",
            "rolled_back_at",
            "error",
            "heartbeat_at",
            "owner",
            "rows_done",
            "dry_run",
            "options",
            "mapping_name",
            "file_size",
            "file_sha256",
        ):
            batch.drop_column(column)
    op.drop_index("ix_value_sources_entity", table_name="value_sources")
    op.drop_index(op.f("ix_value_sources_batch_id"), table_name="value_sources")
    op.drop_table("value_sources")
    op.drop_index("ix_import_rejects_batch_line", table_name="import_rejects")
    op.drop_table("import_rejects")
    op.drop_index("ix_import_changes_entity", table_name="import_changes")
    op.drop_index("ix_import_changes_batch", table_name="import_changes")
    op.drop_table("import_changes")
    op.drop_table("source_records")
    op.drop_table("mapping_profiles")
