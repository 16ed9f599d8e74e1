"""The home dashboard's figures: the base, who can be reached on each channel, revenue and
active customers month by month, and what needs attention.

Every figure is one aggregate query (counted on indexes where the store has them), so the
start page stays fast on a large base. Contactable means what a send would check
(:mod:`closedloop.consent.policy`): a *granted* consent for the channel (for at least one
purpose), a valid address for it, and no suppression of the person on that channel or all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from closedloop.consent.models import ConsentCurrent, Suppression
from closedloop.contacts.models import Address, Email, Person, Phone
from closedloop.dedupe.models import DuplicateCandidate
from closedloop.jobs.models import Job
from closedloop.transactions.models import Order
from closedloop.vocab import Channel, ConsentState, JobStatus

#: Months shown by the revenue chart, ending with the month of the latest order.
MONTHS = 24
#: Channels shown, in this order, with the contact point each needs.
CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.LETTER)


@dataclass(frozen=True)
class Month:
    """One month of orders: its first day, revenue (completed orders, in ``currency``) and
    how many distinct customers bought."""

    start: date
    revenue: Decimal
    buyers: int


@dataclass
class Dashboard:
    """The figures of the start page."""

    persons: int
    by_lifecycle: dict[str, int]
    contactable: dict[str, int]
    currency: str
    months: list[Month] = field(default_factory=list)
    failed_jobs: int = 0
    pairs_to_review: int = 0
    latest_jobs: list[Job] = field(default_factory=list)

    @property
    def customers(self) -> int:
        """Persons who bought (customers, lapsed and won-back)."""
        return sum(n for code, n in self.by_lifecycle.items() if code != "prospect")

    @property
    def prospects(self) -> int:
        """Persons who never bought."""
        return self.by_lifecycle.get("prospect", 0)


def _address_condition(channel: Channel) -> ColumnElement[bool]:
    """The person has a valid contact point for ``channel``."""
    if channel is Channel.EMAIL:
        return exists().where(Email.person_id == Person.id, Email.is_valid.is_(True))
    if channel is Channel.SMS:
        return exists().where(
            Phone.person_id == Person.id, Phone.is_valid.is_(True), Phone.line_type == "mobile"
        )
    if channel is Channel.PHONE:
        return exists().where(Phone.person_id == Person.id, Phone.is_valid.is_(True))
    return exists().where(
        Address.person_id == Person.id,
        Address.is_valid.is_(True),
        Address.status != "suspect",
        Address.line1.is_not(None),
    )


def contactable(session: Session, channel: Channel) -> int:
    """Golden records that a message on ``channel`` may reach (for at least one purpose)."""
    granted = exists().where(
        ConsentCurrent.person_id == Person.id,
        ConsentCurrent.channel == channel.value,
        ConsentCurrent.state == ConsentState.GRANTED.value,
    )
    suppressed = exists().where(
        Suppression.person_id == Person.id,
        or_(Suppression.channel.is_(None), Suppression.channel == channel.value),
    )
    stmt = select(func.count(Person.id)).where(
        Person.merged_into_id.is_(None), granted, _address_condition(channel), ~suppressed
    )
    return int(session.scalar(stmt) or 0)


def _month_starts(last: date, count: int) -> list[date]:
    year, month = last.year, last.month
    starts = []
    for _ in range(count):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def monthly_orders(session: Session, currency: str, months: int = MONTHS) -> list[Month]:
    """Revenue (completed orders in ``currency``) and distinct buyers for each of the
    ``months`` months up to the latest order's, oldest first; one pass over the orders."""
    latest = session.scalar(select(func.max(Order.ordered_at)))
    if latest is None:
        return []
    starts = _month_starts(latest.date(), months)
    edges = [datetime(s.year, s.month, s.day, tzinfo=UTC) for s in starts]
    after = date(starts[-1].year + starts[-1].month // 12, starts[-1].month % 12 + 1, 1)
    edges.append(datetime(after.year, after.month, 1, tzinfo=UTC))
    bucket = case(
        *(
            (and_(Order.ordered_at >= lo, Order.ordered_at < hi), index)
            for index, (lo, hi) in enumerate(pairwise(edges))
        ),
        else_=None,
    ).label("bucket")
    rows = session.execute(
        select(bucket, func.sum(Order.total_amount), func.count(func.distinct(Order.person_id)))
        .where(
            Order.ordered_at >= edges[0],
            Order.ordered_at < edges[-1],
            Order.status == "completed",
            Order.currency == currency,
        )
        .group_by(bucket)
    ).all()
    found = {int(b): (Decimal(total or 0), int(n)) for b, total, n in rows if b is not None}
    return [Month(start, *found.get(index, (Decimal(0), 0))) for index, start in enumerate(starts)]


def build_dashboard(session: Session, currency: str, *, jobs: int = 6) -> Dashboard:
    """Every figure of the start page, in ``currency`` for the revenue."""
    by_lifecycle = dict(
        session.execute(
            select(Person.lifecycle_status, func.count(Person.id))
            .where(Person.merged_into_id.is_(None))
            .group_by(Person.lifecycle_status)
        ).all()
    )
    return Dashboard(
        persons=sum(by_lifecycle.values()),
        by_lifecycle={str(k): int(v) for k, v in by_lifecycle.items()},
        contactable={c.value: contactable(session, c) for c in CHANNELS},
        currency=currency,
        months=monthly_orders(session, currency),
        failed_jobs=int(
            session.scalar(select(func.count(Job.id)).where(Job.status == JobStatus.FAILED.value))
            or 0
        ),
        pairs_to_review=int(
            session.scalar(
                select(func.count(DuplicateCandidate.id)).where(
                    DuplicateCandidate.status == "pending"
                )
            )
            or 0
        ),
        latest_jobs=list(session.scalars(select(Job).order_by(Job.id.desc()).limit(jobs))),
    )


__all__ = ["CHANNELS", "Dashboard", "Month", "build_dashboard", "contactable", "monthly_orders"]
