"""ORM models of score runs and per-person scores, kept with history (M8)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk
from closedloop.db.types import JsonDoc, Money


class ScoreRun(Base):
    """One scoring run: its parameters, fitted models and status."""

    __tablename__ = "score_runs"
    id: Mapped[int_pk]
    status: Mapped[str] = mapped_column(String(16), default="running")
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    models: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    started_at: Mapped[created_at]
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PersonScore(Base):
    """A person's value figures in one run: RFM, P(alive), expected purchases, CLV, tier."""

    __tablename__ = "person_scores"
    __table_args__ = (Index("ix_person_scores_person_run", "person_id", "run_id"),)
    run_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("score_runs.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    recency_days: Mapped[int | None] = mapped_column(Integer)
    frequency: Mapped[int] = mapped_column(Integer, default=0)
    monetary: Mapped[Decimal | None] = mapped_column(Money)
    rfm_code: Mapped[str | None] = mapped_column(String(3))
    rfm_segment: Mapped[str | None] = mapped_column(String(32))
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_30: Mapped[float | None] = mapped_column(Float)
    expected_90: Mapped[float | None] = mapped_column(Float)
    expected_365: Mapped[float | None] = mapped_column(Float)
    expected_spend: Mapped[Decimal | None] = mapped_column(Money)
    clv: Mapped[Decimal | None] = mapped_column(Money)
    tier: Mapped[str | None] = mapped_column(String(8))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(16))
