"""ORM models of campaigns (M11–M13) and the contact history (one row per message)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk
from closedloop.db.types import JsonDoc, Money
from closedloop.vocab import CampaignStatus, Purpose


class Offer(Base):
    """What a cell proposes: a product, a price, a message."""

    __tablename__ = "offers"
    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="SET NULL")
    )
    price: Mapped[Decimal | None] = mapped_column(Money)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class Campaign(Base):
    """A planned approach with objective, budget and schedule.

    Its content is frozen once it runs: an edit then makes a new version (same code, version
    + 1, ``previous_id`` the one it replaces), see :mod:`closedloop.campaigns.lifecycle`.
    """

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("code", "version"),)
    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    previous_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200))
    objective: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT.value)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    budget: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    response_window_days: Mapped[int] = mapped_column(Integer, default=30)
    #: the consent purpose its messages need (with the cell's channel), checked at send time
    purpose: Mapped[str] = mapped_column(
        String(32), default=Purpose.MARKETING.value, server_default=Purpose.MARKETING.value
    )
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    #: the product or offer it promotes (cells may propose their own)
    offer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("offers.id", ondelete="SET NULL")
    )
    #: planned cost of one contact (a cell's unit cost overrides it)
    cost_per_contact: Mapped[Decimal | None] = mapped_column(Money)
    #: username of its author, and of the marketer who approved it
    created_by: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    launched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Wave(Base):
    """One send date of a campaign."""

    __tablename__ = "waves"
    id: Mapped[int_pk]
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT.value)
    #: messages planned (the calendar's volume before extraction counts the real ones)
    expected_volume: Mapped[int | None] = mapped_column(Integer)


class Cell(Base):
    """A group of a campaign's audience: a channel and offer, or a control group."""

    __tablename__ = "cells"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)
    id: Mapped[int_pk]
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(16))
    offer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("offers.id", ondelete="SET NULL")
    )
    share: Mapped[float] = mapped_column(Float, default=1.0)
    unit_cost: Mapped[Decimal | None] = mapped_column(Money)
    #: the price it proposes (overrides the offer's)
    price: Mapped[Decimal | None] = mapped_column(Money)
    #: the target segment it treats (None: the campaign's whole target)
    segment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("segments.id", ondelete="SET NULL")
    )
    #: the message its members get (a template version; its content is frozen once used)
    template_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("message_templates.id", ondelete="RESTRICT"), index=True
    )


class CampaignMember(Base):
    """A person's assignment to a campaign cell (control members get no message)."""

    __tablename__ = "campaign_members"
    __table_args__ = (
        UniqueConstraint("campaign_id", "person_id"),
        #: members counted per cell from the index alone (a report; migration 0021)
        Index("ix_campaign_members_campaign_cell", "campaign_id", "cell_id"),
    )
    id: Mapped[int_pk]
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id", ondelete="CASCADE"))
    cell_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("cells.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    assigned_at: Mapped[created_at]


class Communication(Base):
    """One message to one person: the contact history, and the send ledger of a wave.

    Extraction inserts a ``queued`` row per (wave, person); the sender
    (:mod:`closedloop.campaigns.sender`) moves it to ``sending`` durably just before the
    irreversible step (the final dot of SMTP DATA), then to ``sent``, ``failed``,
    ``suppressed`` (consent or suppression at send time), ``skipped`` (no address, a second
    row for the same person) or ``unconfirmed`` (the sender died between the two).
    """

    __tablename__ = "communications"
    __table_args__ = (
        Index("ix_communications_person_sent", "person_id", "sent_at"),
        Index("ix_communications_wave_status_id", "wave_id", "status", "id"),
        Index("ix_communications_wave_person", "wave_id", "person_id"),
        #: a report's waves: first and last message (migration 0021)
        Index("ix_communications_wave_sent", "wave_id", "sent_at"),
        #: a report's members per cell and wave from the index alone (migration 0022)
        Index("ix_communications_wave_cell_status", "wave_id", "cell_id", "status"),
    )
    id: Mapped[int_pk]
    person_id: Mapped[int] = mapped_column(BigId, ForeignKey("persons.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    #: no index of its own: four indexes lead with it (migration 0025)
    wave_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("waves.id", ondelete="SET NULL"))
    cell_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("cells.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cost: Mapped[Decimal | None] = mapped_column(Money)
    external_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[created_at]
    #: delivery attempts so far (temporary failures are retried with backoff)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: why the row is failed, suppressed, skipped or unconfirmed (the last error while queued)
    detail: Mapped[str | None] = mapped_column(String(500))


class MessageTemplate(Base):
    """A message of one channel (a cell's treatment), with one content per locale.

    A version is frozen once a wave used it: editing makes a new version of the same code.
    """

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("code", "version"),)
    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    default_locale: Mapped[str] = mapped_column(String(16), default="en")
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]


class MessageContent(Base):
    """The text of a template in one locale: subject and body (HTML for email, text for SMS
    and letters), with an optional hand-written plain-text part for email."""

    __tablename__ = "message_contents"
    __table_args__ = (UniqueConstraint("template_id", "locale"),)
    id: Mapped[int_pk]
    template_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("message_templates.id", ondelete="CASCADE")
    )
    locale: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str | None] = mapped_column(Text)


class SeedAddress(Base):
    """An internal address that gets a copy of every wave (monitoring) and the proofs."""

    __tablename__ = "seed_addresses"
    __table_args__ = (UniqueConstraint("channel", "address"),)
    id: Mapped[int_pk]
    channel: Mapped[str] = mapped_column(String(16))
    #: email address, E.164 phone number, or a label for a postal seed
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(16))
    #: person-like fields a seed's copy is rendered with (given_name, postal address…)
    fields: Mapped[dict[str, str]] = mapped_column(JsonDoc, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created_at]


class SeedSend(Base):
    """A seed's copy of one cell's message of a wave (at most one, sent once)."""

    __tablename__ = "seed_sends"
    __table_args__ = (UniqueConstraint("wave_id", "cell_id", "seed_id"),)
    id: Mapped[int_pk]
    wave_id: Mapped[int] = mapped_column(BigId, ForeignKey("waves.id", ondelete="CASCADE"))
    cell_id: Mapped[int] = mapped_column(BigId, ForeignKey("cells.id", ondelete="CASCADE"))
    seed_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("seed_addresses.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    external_ref: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SendRun(Base):
    """The sending of one wave: who holds it (a lease, so two senders never work on the same
    wave), its heartbeat, and how its last run ended."""

    __tablename__ = "send_runs"
    wave_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), default="idle")
    message: Mapped[str | None] = mapped_column(String(500))


class FunnelCount(Base):
    """The funnel counters of one cell (scope 0, all waves; ``wave_id`` 0) or one cell within
    one wave (scope 1), kept by :mod:`closedloop.campaigns.counters` (migrations 0022, 0024)."""

    __tablename__ = "funnel_counts"
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cell_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    wave_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contacted: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    costed: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    clicked: Mapped[int] = mapped_column(Integer, default=0)
    responded: Mapped[int] = mapped_column(Integer, default=0)
    #: the response rows behind opened/clicked/responded (migration 0024): a report compares
    #: their sum with a count of the rows to see counters left stale by a bulk load
    responses: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
