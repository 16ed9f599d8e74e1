"""ORM models of consent (M4): an append-only ledger, the current state, suppressions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk, str_source, utcnow


class ConsentEvent(Base):
    """One grant or withdrawal, with its proof. Rows are only ever added, never changed."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_person_at", "person_id", "occurred_at"),)
    id: Mapped[int_pk]
    person_id: Mapped[int] = mapped_column(BigId, ForeignKey("persons.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    method: Mapped[str] = mapped_column(String(32))
    proof_text: Mapped[str | None] = mapped_column(Text)
    proof_version: Mapped[str | None] = mapped_column(String(32))
    source_system: Mapped[str_source]
    ip_address: Mapped[str | None] = mapped_column(String(64))
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[created_at]


class ConsentCurrent(Base):
    """The latest state per person, channel and purpose, kept by the consent service.

    It is derived from the ledger (``rebuild_current`` recomputes it) and exists so that an
    audience of millions can be checked with one indexed join.
    """

    __tablename__ = "consent_current"
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consent_events.id", ondelete="CASCADE")
    )
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Suppression(Base):
    """Never contact: a person, or an email/phone value, on one channel or all (M4)."""

    __tablename__ = "suppressions"
    id: Mapped[int_pk]
    person_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    value_key: Mapped[str | None] = mapped_column(String(320), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))
    source_system: Mapped[str_source]
    created_at: Mapped[created_at]
