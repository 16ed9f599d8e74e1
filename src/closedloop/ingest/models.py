"""ORM models of imports: batches, mapping profiles, rejects, before-images and lineage.

Every imported record points back to its batch (``import_batch_id`` on persons, organisations,
products and orders). A batch keeps its checkpoint (``rows_done``) so that a killed import
resumes; its rejects; and, for every record it changed, the values before and after
(``import_changes``) so that it can be rolled back. ``value_sources`` says where each changed
value came from; ``source_records`` remembers the last row each source sent for each record,
so that importing the same file again skips unchanged rows without validating them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk, utcnow
from closedloop.db.types import JsonDoc


class ImportBatch(Base):
    """One run of an import (a file, an API batch, the demo generator).

    ``status``: ``running``, ``done``, ``failed``, ``dry_run`` (a dry run keeps only its
    report) or ``rolled_back``. ``rows_done`` counts the data rows whose chunk is committed:
    a rerun of the same file (same SHA-256, kind and source) skips them.
    """

    __tablename__ = "import_batches"
    __table_args__ = (
        Index("ix_import_batches_resume", "kind", "source_system", "file_sha256"),
        Index("ix_import_batches_job_id", "job_id"),
    )
    id: Mapped[int_pk]
    kind: Mapped[str] = mapped_column(String(32))
    source_system: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[created_at]
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    mapping_name: Mapped[str | None] = mapped_column(String(64))
    options: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rows_done: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    owner: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rolled_back_by: Mapped[str | None] = mapped_column(String(64))
    #: the worker job (``ingest.run``) that runs the import, for web and API imports
    job_id: Mapped[int | None] = mapped_column(Integer)


class MappingProfile(Base):
    """A saved mapping: which column of a file goes to which field, reused by name."""

    __tablename__ = "mapping_profiles"
    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: ``{"column": "target"}`` where target is a field, ``attribute:CODE:TYPE``,
    #: ``identifier:SCHEME`` or ``ignore``.
    columns: Mapped[dict[str, str]] = mapped_column(JsonDoc, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ImportReject(Base):
    """One refused value of one row: line number, field, value and reason.

    ``severity`` is ``error`` (the row was refused) or ``warning`` (the value was left out
    of a row that was kept).
    """

    __tablename__ = "import_rejects"
    __table_args__ = (Index("ix_import_rejects_batch_line", "batch_id", "line_no"),)
    id: Mapped[int_pk]
    batch_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("import_batches.id", ondelete="CASCADE")
    )
    line_no: Mapped[int] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(100))
    value: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(8), default="error", server_default="error")


class ImportChange(Base):
    """A record an import created (``created``) or changed (``updated``, with ``data`` holding
    ``{"before": {...}, "after": {...}}`` of the changed fields): what a rollback undoes.

    Persons, organisations, products and orders created by a batch are found by their
    ``import_batch_id`` instead, so that a big first import writes no row here.
    """

    __tablename__ = "import_changes"
    __table_args__ = (
        Index("ix_import_changes_batch", "batch_id"),
        Index("ix_import_changes_entity", "entity", "entity_id"),
    )
    id: Mapped[int_pk]
    batch_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("import_batches.id", ondelete="CASCADE")
    )
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)


class ValueSource(Base):
    """Where a value came from: the source system and batch that last set ``field``.

    A value with no row here comes from the record's own ``source_system`` and
    ``import_batch_id`` (the batch that created it); see :func:`closedloop.ingest.service.lineage`.
    """

    __tablename__ = "value_sources"
    __table_args__ = (Index("ix_value_sources_entity", "entity", "entity_id", "field"),)
    id: Mapped[int_pk]
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(64))
    source_system: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("import_batches.id", ondelete="SET NULL"), index=True
    )
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SourceRecord(Base):
    """The last row a source sent for a record: its hash, the batch and line it came from.

    Importing the same row again is recognised by the hash without validating it; a second
    row with the same key in one file is recognised by ``batch_id`` (the first one wins). The
    record's own ``source_system`` and ``external_id`` say which source that is. On SQLite the
    table is clustered on its key (``WITHOUT ROWID``): one B-tree, no extra index to write.
    """

    __tablename__ = "source_records"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012
    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    entity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    row_hash: Mapped[str | None] = mapped_column(String(32))
    batch_id: Mapped[int | None] = mapped_column(BigInteger)
    line_no: Mapped[int | None] = mapped_column(Integer)
