"""ORM models of data quality: known duplicate pairs (ground truth planted by the demo, or
labelled by users) and identity resolution (models, candidate pairs, clusters, merges, keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk, utcnow
from closedloop.db.types import JsonDoc, search_key


class DuplicateTruth(Base):
    """``person_id`` duplicates ``original_id``; ``perturbation`` says how it differs."""

    __tablename__ = "duplicate_truth"
    id: Mapped[int_pk]
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    original_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    perturbation: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(32), default="demo")
    created_at: Mapped[created_at]


# ---------------------------------------------------------------------------------------------
# Identity resolution (issue 4): the trained model, predicted pairs, clusters, merges, keys.


class DedupeModelRecord(Base):
    """A trained dedupe model (the engine's versioned JSON document), one row per training.

    ``version`` counts the trainings of this store; the newest ``is_active`` row is the one
    the online check scores with.
    """

    __tablename__ = "dedupe_models"
    id: Mapped[int_pk]
    version: Mapped[int] = mapped_column(Integer, unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    threshold: Mapped[float] = mapped_column(Float)
    review_threshold: Mapped[float] = mapped_column(Float)
    trained_on: Mapped[int] = mapped_column(Integer, default=0)
    document: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    job_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class DuplicateCandidate(Base):
    """A predicted pair of persons (``person_l_id`` < ``person_r_id``) and what became of it.

    ``status``: pending (in the review queue), auto_merged, accepted (merged by a reviewer),
    rejected (left apart this time) or not_duplicate (remembered: never proposed again).
    ``explanation`` is the waterfall: the prior and one step per comparison, in bits.
    """

    __tablename__ = "duplicate_candidates"
    __table_args__ = (
        UniqueConstraint("person_l_id", "person_r_id"),
        Index("ix_duplicate_candidates_status_probability", "status", "match_probability"),
    )
    id: Mapped[int_pk]
    person_l_id: Mapped[int] = mapped_column(BigId, ForeignKey("persons.id", ondelete="CASCADE"))
    person_r_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    match_weight: Mapped[float] = mapped_column(Float)
    match_probability: Mapped[float] = mapped_column(Float)
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    origin: Mapped[str] = mapped_column(String(16), default="batch")
    note: Mapped[str | None] = mapped_column(String(300))
    model_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("dedupe_models.id", ondelete="SET NULL")
    )
    merge_event_id: Mapped[int | None] = mapped_column(BigId)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class DedupeCluster(Base):
    """A group of records believed to be one person. Its id is kept from run to run while
    its members overlap (the old cluster that shares most members lends its id)."""

    __tablename__ = "dedupe_clusters"
    id: Mapped[int_pk]
    size: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class DedupeClusterMember(Base):
    """A person's cluster (only persons in clusters of two or more records have a row)."""

    __tablename__ = "dedupe_cluster_members"
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    cluster_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("dedupe_clusters.id", ondelete="CASCADE"), index=True
    )


class MergeEvent(Base):
    """One merge of ``source_id`` into ``golden_id``, with everything needed to undo it.

    ``before`` holds full rows of both persons and their contact points, identifiers,
    attributes and relationships as they were; ``moved`` what each domain's
    ``person_merged`` hook moved or removed (orders, consents, communications, responses…);
    ``after`` the golden record as the merge left it and which record each field came from.
    """

    __tablename__ = "merge_events"
    id: Mapped[int_pk]
    golden_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    candidate_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("duplicate_candidates.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(16))
    merged_by: Mapped[str | None] = mapped_column(String(64))
    merged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    before: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    after: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    moved: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    golden_version: Mapped[int] = mapped_column(Integer)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[str | None] = mapped_column(String(64))


class PersonMatchKey(Base):
    """A blocking key of a golden person for the online check (kind + value, indexed)."""

    __tablename__ = "person_match_keys"
    __table_args__ = (
        Index("ix_person_match_keys_kind_value", "key_kind", "key_value", "person_id"),
    )
    id: Mapped[int_pk]
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    key_kind: Mapped[str] = mapped_column(String(32))
    key_value: Mapped[str] = mapped_column(search_key(200))


class PersonMatchRecord(Base):
    """A golden person's prepared record for the online check (the engine's standardised
    columns as compact JSON), so candidates are scored without reading and preparing them."""

    __tablename__ = "person_match_records"
    person_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("persons.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    data: Mapped[str] = mapped_column(Text)
