"""ORM models of events (issue 17 item 7, issue 18): an event a campaign invites to, and each
invited person's answer and attendance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk


class Event(Base):
    """A meeting people are invited to: when, where, how many seats, who organises it.

    The campaign it belongs to sends the invitations (its emails carry the RSVP links and the
    ``.ics``). ``seats_taken`` counts the guests who answered yes; a seat is taken by one
    conditional ``UPDATE`` (:mod:`closedloop.events.rsvp`), so it never exceeds ``capacity``.
    """

    __tablename__ = "events"
    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), unique=True
    )
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: the IANA zone the times are shown in (stored in UTC)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    venue: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    online_url: Mapped[str | None] = mapped_column(String(500))
    #: seats for guests who answer yes (None: no limit)
    capacity: Mapped[int | None] = mapped_column(Integer)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    organiser_name: Mapped[str | None] = mapped_column(String(200))
    organiser_email: Mapped[str | None] = mapped_column(String(320))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]


class EventGuest(Base):
    """One invited person: the invitation that reached them, their latest answer (``yes``,
    ``no``, ``maybe``, ``waitlist`` when they said yes to a full event; None: no answer yet)
    and their check-in at the door."""

    __tablename__ = "event_guests"
    __table_args__ = (
        UniqueConstraint("event_id", "person_id"),
        Index("ix_event_guests_event_answer", "event_id", "answer"),
    )
    id: Mapped[int_pk]
    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("events.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    communication_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("communications.id", ondelete="SET NULL")
    )
    answer: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]
