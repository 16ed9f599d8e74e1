"""ORM models of segments (M10): a saved rule (dynamic) or a frozen list of persons (snapshot)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk, utcnow
from closedloop.db.types import JsonDoc


class Segment(Base):
    """A named group of persons.

    ``kind`` is ``dynamic`` (its ``rules`` are evaluated whenever it is used) or ``snapshot``
    (its members were frozen at ``frozen_at`` into ``segment_members``). A snapshot keeps the
    rule it came from (``rules``, with ``source_segment_id`` when it froze a saved segment) or,
    when another analysis chose its members (a propensity top-N, a cluster…), ``origin``: a JSON
    description of that analysis. ``frozen_count`` is its size when frozen; members that are
    merged afterwards follow their golden record, deleted ones leave it.
    """

    __tablename__ = "segments"
    id: Mapped[int_pk]
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="dynamic")
    rules: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    origin: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    source_segment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("segments.id", ondelete="SET NULL")
    )
    frozen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    frozen_count: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class SegmentMember(Base):
    """One person frozen into a snapshot segment."""

    __tablename__ = "segment_members"
    segment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True, index=True
    )
