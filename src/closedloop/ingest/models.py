"""ORM model of an import batch: every imported record points back to its batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, created_at, int_pk
from closedloop.db.types import JsonDoc


class ImportBatch(Base):
    """One run of an import (a file, an API batch, the demo generator)."""

    __tablename__ = "import_batches"
    id: Mapped[int_pk]
    kind: Mapped[str] = mapped_column(String(32))
    source_system: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[created_at]
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
