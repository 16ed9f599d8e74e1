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
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk
from closedloop.db.types import Money
from closedloop.vocab import CampaignStatus


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
    """A planned approach with objective, budget and schedule."""

    __tablename__ = "campaigns"
    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    objective: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT.value)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    budget: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    response_window_days: Mapped[int] = mapped_column(Integer, default=30)
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


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


class CampaignMember(Base):
    """A person's assignment to a campaign cell (control members get no message)."""

    __tablename__ = "campaign_members"
    __table_args__ = (UniqueConstraint("campaign_id", "person_id"),)
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
    """One message sent (or suppressed) to one person: the contact history."""

    __tablename__ = "communications"
    __table_args__ = (Index("ix_communications_person_sent", "person_id", "sent_at"),)
    id: Mapped[int_pk]
    person_id: Mapped[int] = mapped_column(BigId, ForeignKey("persons.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    wave_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("waves.id", ondelete="SET NULL"), index=True
    )
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
