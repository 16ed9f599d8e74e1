"""identity resolution: dedupe models, candidate pairs, clusters, merge events, match keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dedupe_clusters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_dedupe_clusters_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedupe_clusters")),
    )
    op.create_table(
        "dedupe_models",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("review_threshold", sa.Float(), nullable=False),
        sa.Column("trained_on", sa.Integer(), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_dedupe_models_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedupe_models")),
        sa.UniqueConstraint("version", name=op.f("uq_dedupe_models_version")),
    )
    op.create_table(
        "dedupe_cluster_members",
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "cluster_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["dedupe_clusters.id"],
            name=op.f("fk_dedupe_cluster_members_cluster_id_dedupe_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_dedupe_cluster_members_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_dedupe_cluster_members")),
    )
    with op.batch_alter_table("dedupe_cluster_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dedupe_cluster_members_cluster_id"), ["cluster_id"], unique=False
        )
    op.create_table(
        "duplicate_candidates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_l_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "person_r_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column(
            "explanation",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("model_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "merge_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["dedupe_models.id"],
            name=op.f("fk_duplicate_candidates_model_id_dedupe_models"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_l_id"],
            ["persons.id"],
            name=op.f("fk_duplicate_candidates_person_l_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_r_id"],
            ["persons.id"],
            name=op.f("fk_duplicate_candidates_person_r_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_candidates")),
        sa.UniqueConstraint(
            "person_l_id",
            "person_r_id",
            name=op.f("uq_duplicate_candidates_person_l_id_person_r_id"),
        ),
    )
    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_duplicate_candidates_person_r_id"), ["person_r_id"], unique=False
        )
        batch_op.create_index(
            "ix_duplicate_candidates_status_probability",
            ["status", "match_probability"],
            unique=False,
        )
    op.create_table(
        "person_match_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key_kind", sa.String(length=32), nullable=False),
        sa.Column(
            "key_value",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_person_match_keys_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_match_keys")),
    )
    with op.batch_alter_table("person_match_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_person_match_keys_kind_value", ["key_kind", "key_value", "person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_person_match_keys_person_id"), ["person_id"], unique=False
        )
    op.create_table(
        "merge_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "golden_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "candidate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("merged_by", sa.String(length=64), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "moved",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("golden_version", sa.Integer(), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["duplicate_candidates.id"],
            name=op.f("fk_merge_events_candidate_id_duplicate_candidates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["golden_id"],
            ["persons.id"],
            name=op.f("fk_merge_events_golden_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["persons.id"],
            name=op.f("fk_merge_events_source_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_events")),
    )
    with op.batch_alter_table("merge_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_merge_events_golden_id"), ["golden_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_merge_events_source_id"), ["source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("merge_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merge_events_source_id"))
        batch_op.drop_index(batch_op.f("ix_merge_events_golden_id"))
    op.drop_table("merge_events")
    with op.batch_alter_table("person_match_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_match_keys_person_id"))
        batch_op.drop_index("ix_person_match_keys_kind_value")
    op.drop_table("person_match_keys")
    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_duplicate_candidates_status_probability")
        batch_op.drop_index(batch_op.f("ix_duplicate_candidates_person_r_id"))
    op.drop_table("duplicate_candidates")
    with op.batch_alter_table("dedupe_cluster_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dedupe_cluster_members_cluster_id"))
    op.drop_table("dedupe_cluster_members")
    op.drop_table("dedupe_models")
    op.drop_table("dedupe_clusters")
