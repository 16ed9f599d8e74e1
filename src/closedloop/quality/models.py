"""ORM model of known duplicate pairs (ground truth planted by the demo, or labelled by users)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk


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
