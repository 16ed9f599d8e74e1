"""ORM models of targeting, tests and coordination (M12, M13): what extraction reads and logs.

* :class:`CampaignTargeting` — a campaign's target segment and extraction options (one person
  per household, stratification by value tier, message weight, expected value, A/B test).
* :class:`PressureRule` — at most N (weighted) messages per person per channel or overall in a
  rolling period, a minimum gap, optionally for one value tier only.
* :class:`ChannelCapacity` — how many messages a channel can take per period (calls a day).
* :class:`GlobalHoldout` — the long-term hold-out: a percentage and the salt of its hash.
* :class:`Exclusion` — one person left out of a wave, with the stage and the reason.
* :class:`CoordinationLock` — the row every extraction locks first, so two extractions never
  interleave (pressure and capacity are checked against a stable history).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk


class CampaignTargeting(Base):
    """Whom a campaign addresses and how its audience is split and coordinated."""

    __tablename__ = "campaign_targeting"
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    segment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("segments.id", ondelete="SET NULL"), index=True
    )
    one_per_household: Mapped[bool] = mapped_column(Boolean, default=False)
    stratify_by_tier: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the fatigue weight of each message of this campaign (Adobe's "weight")
    weight: Mapped[int] = mapped_column(Integer, default=1)
    #: expected value of one contact: breaks ties between campaigns of equal priority
    expected_value: Mapped[float] = mapped_column(Float, default=0.0)
    #: A/B with an automatic winner: the share of the treatment audience the test cells get
    ab_test_share: Mapped[float | None] = mapped_column(Float)
    ab_metric: Mapped[str | None] = mapped_column(String(16))
    ab_decide_after_hours: Mapped[float | None] = mapped_column(Float)
    ab_winner_cell_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("cells.id", ondelete="SET NULL")
    )
    ab_decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PressureRule(Base):
    """At most ``max_messages`` (weighted) per person in any ``period_days`` window, on one
    channel (or all when ``channel`` is None), and at least ``min_gap_hours`` between two;
    only for persons of value tier ``tier`` when set."""

    __tablename__ = "pressure_rules"
    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    max_messages: Mapped[int] = mapped_column(Integer)
    period_days: Mapped[int] = mapped_column(Integer)
    min_gap_hours: Mapped[float] = mapped_column(Float, default=0.0)
    tier: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created_at]


class ChannelCapacity(Base):
    """At most ``max_messages`` on ``channel`` per ``period_days`` (calendar periods counted
    from Monday 1970-01-05: a day, an ISO week from Monday… the same on every database)."""

    __tablename__ = "channel_capacities"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    max_messages: Mapped[int] = mapped_column(Integer)
    period_days: Mapped[int] = mapped_column(Integer, default=1)


class GlobalHoldout(Base):
    """The long-term hold-out: persons whose hash under ``salt`` falls below ``percentage``
    get no campaign at all. Persistent: the same persons as long as the salt is kept."""

    __tablename__ = "global_holdout"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    percentage: Mapped[float] = mapped_column(Float)
    salt: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[created_at]


class Exclusion(Base):
    """A person of a wave's target who gets no message, with the funnel stage and reason."""

    __tablename__ = "extraction_exclusions"
    __table_args__ = (Index("ix_extraction_exclusions_wave_stage", "wave_id", "stage"),)
    id: Mapped[int_pk]
    wave_id: Mapped[int] = mapped_column(BigId, ForeignKey("waves.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[created_at]


class CoordinationLock(Base):
    """One row (id 1) that extraction updates first: the serialised section."""

    __tablename__ = "coordination_lock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    holder: Mapped[str | None] = mapped_column(String(100))
