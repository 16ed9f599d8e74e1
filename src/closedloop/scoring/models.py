"""ORM models of score runs and per-person scores, kept with history (M8)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk, utcnow
from closedloop.db.types import JsonDoc, Money


class ScoreRun(Base):
    """One scoring run: its parameters, fitted models, summary and status.

    ``status`` is ``queued``, ``running``, ``done`` or ``failed`` (``error`` then says why).
    ``models`` holds both purchase models' fits, their holdout check and the choice made;
    ``summary`` the counts of the run (persons scored, segments, tiers, excluded orders…).
    """

    __tablename__ = "score_runs"
    __table_args__ = (Index("ix_score_runs_status_as_of", "status", "as_of"),)
    id: Mapped[int_pk]
    status: Mapped[str] = mapped_column(String(16), default="running")
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    models: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    progress: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[created_at]
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PersonScore(Base):
    """A person's value figures in one run: RFM, P(alive), expected purchases, CLV, tier.

    Amounts are in the run's base currency. ``frequency`` and ``monetary`` are the purchase
    days and the net revenue inside the run's RFM window; ``recency_days`` is the number of
    days since the last purchase; ``revenue`` and ``purchase_days`` cover the whole history.
    """

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
    revenue: Mapped[Decimal | None] = mapped_column(Money)
    purchase_days: Mapped[int | None] = mapped_column(Integer)
    first_purchase_on: Mapped[date | None] = mapped_column(Date)


class CurrencyRate(Base):
    """How many units of ``base_currency`` one unit of ``currency`` is worth.

    The scoring run converts every order into the base currency (``CLOSEDLOOP_DEFAULT_CURRENCY``)
    with these rates and refuses to run when an order's currency has none.
    """

    __tablename__ = "currency_rates"
    base_currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(18, 8))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ReportSnapshot(Base):
    """A report computed once and kept (e.g. the demand report after each scoring run), so
    that pages over millions of orders open at once. ``data`` is the report as JSON."""

    __tablename__ = "report_snapshots"
    __table_args__ = (Index("ix_report_snapshots_kind_created", "kind", "created_at"),)
    id: Mapped[int_pk]
    kind: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[date] = mapped_column(Date)
    run_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("score_runs.id", ondelete="SET NULL")
    )
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[created_at]
