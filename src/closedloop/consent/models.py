"""ORM models of consent (M4): an append-only ledger, the current state, suppressions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk, str_source, utcnow
from closedloop.db.types import JsonDoc


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


class SignupForm(Base):
    """A public sign-up form (M6): what it offers (topics mapped to purposes, channels), the
    consent text it shows with its version, and the confirmation email it sends."""

    __tablename__ = "signup_forms"
    id: Mapped[int_pk]
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    intro: Mapped[str | None] = mapped_column(Text)
    #: ``[{"code": "book-news", "label": "Book news", "purpose": "newsletter"}, …]``
    topics: Mapped[list[dict[str, str]]] = mapped_column(JsonDoc, default=list)
    channels: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    proof_text: Mapped[str] = mapped_column(Text)
    proof_version: Mapped[str] = mapped_column(String(32))
    confirm_subject: Mapped[str] = mapped_column(String(200))
    confirm_body: Mapped[str] = mapped_column(Text)
    redirect_url: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class SignupRequest(Base):
    """One submission of a sign-up form, pending until the address owner confirms it.

    No consent exists before ``confirmed_at``: the grants are recorded by the confirmation.
    The submitted details wait here and only fill gaps of the person once confirmed.
    """

    __tablename__ = "signup_requests"
    __table_args__ = (Index("ix_signup_requests_person_requested", "person_id", "requested_at"),)
    id: Mapped[int_pk]
    form_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("signup_forms.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(BigId, ForeignKey("persons.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    topics: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    channels: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    details: Mapped[dict[str, str]] = mapped_column(JsonDoc, default=dict)
    locale: Mapped[str | None] = mapped_column(String(16))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_ip: Mapped[str | None] = mapped_column(String(64))
