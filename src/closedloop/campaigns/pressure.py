"""Contact pressure (M12): rules, the history they are checked against, and the check.

A rule allows at most ``max_messages`` (weighted: each message counts its campaign's weight,
as Adobe's fatigue rules do) per person in any window of ``period_days`` on one channel or on
all, and at least ``min_gap_hours`` between two messages; a rule with a ``tier`` applies only
to persons of that value tier.

The history is every message that holds or held a place: ``queued``, ``sending``, ``sent``,
``delivered``, ``unconfirmed`` (a queued message of another wave counts, so two waves
extracted one after the other cannot exceed). A message is placed at its send time, else at
its wave's scheduled time, else when it was queued. The check is conservative: a new message
at ``t`` is refused when the messages within ``(t - period, t + period)`` plus itself weigh more
than the limit, so that *no* window of the period — before or after ``t`` — ever exceeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from closedloop.campaigns.coordination_models import PressureRule
from closedloop.campaigns.models import Communication, Wave
from closedloop.errors import NotFound, ValidationFailed
from closedloop.vocab import Channel
from closedloop.vocab import CommunicationStatus as St

#: Statuses of messages that count against pressure and capacity.
COUNTED = (St.QUEUED.value, St.SENDING.value, St.SENT.value, St.DELIVERED.value,
           St.UNCONFIRMED.value)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """A pressure rule as the check uses it."""

    id: int
    name: str
    channel: str | None
    max_messages: int
    period_days: int
    min_gap_hours: float
    tier: str | None

    def applies(self, channel: str, tier: str | None) -> bool:
        """True when the rule governs a message of ``channel`` to a person of ``tier``."""
        return (self.channel is None or self.channel == channel) and (
            self.tier is None or self.tier == tier
        )


@dataclass(frozen=True)
class Past:
    """A message already in the history of a person."""

    at: datetime
    channel: str
    weight: int
    communication_id: int = 0


def active_rules(session: Session) -> list[Rule]:
    """The active pressure rules."""
    rows = session.scalars(select(PressureRule).where(PressureRule.active.is_(True))).all()
    return [
        Rule(r.id, r.name, r.channel, r.max_messages, r.period_days, r.min_gap_hours or 0.0, r.tier)
        for r in rows
    ]


def horizon(rules: Sequence[Rule]) -> timedelta:
    """How far before and after a message the history matters."""
    days = max([r.period_days for r in rules] + [0])
    hours = max([r.min_gap_hours for r in rules] + [0.0])
    return max(timedelta(days=days), timedelta(hours=hours))


def check(
    rules: Iterable[Rule],
    tier: str | None,
    history: Iterable[Past],
    channel: str,
    at: datetime,
    weight: int,
) -> str | None:
    """Why a message of ``channel`` and ``weight`` at ``at`` would break a rule, or None."""
    past = list(history)
    for rule in rules:
        if not rule.applies(channel, tier):
            continue
        mine = [p for p in past if rule.channel is None or p.channel == rule.channel]
        where = f"on {rule.channel}" if rule.channel else "on all channels"
        if rule.min_gap_hours > 0:
            gap = timedelta(hours=rule.min_gap_hours)
            if any(abs(p.at - at) < gap for p in mine):
                hours = f"{rule.min_gap_hours:g} h"
                return f"rule {rule.name}: less than {hours} since another message {where}"
        period = timedelta(days=rule.period_days)
        load = sum(p.weight for p in mine if abs(p.at - at) < period)
        if load + weight > rule.max_messages:
            return (
                f"rule {rule.name}: {load} of {rule.max_messages} already {where} "
                f"within {rule.period_days} days"
            )
    return None


def message_time() -> ColumnElement[datetime]:
    """Where a message sits in time: sent, else its wave's schedule, else when queued."""
    return func.coalesce(Communication.sent_at, Wave.scheduled_at, Communication.created_at)


def save_rule(
    session: Session,
    name: str,
    *,
    max_messages: int,
    period_days: int,
    channel: str | None = None,
    min_gap_hours: float = 0.0,
    tier: str | None = None,
    active: bool = True,
) -> PressureRule:
    """Create the rule ``name``, or replace its values; each bad value raises ValidationFailed
    naming the field."""
    errors = []
    if not name or len(name) > 100:
        errors.append({"field": "name", "reason": "must be 1–100 characters"})
    if channel is not None and channel not in {c.value for c in Channel}:
        errors.append({"field": "channel", "reason": f"unknown channel {channel!r}"})
    if max_messages < 0:
        errors.append({"field": "max_messages", "reason": "must be 0 or more"})
    if not 1 <= period_days <= 366:
        errors.append({"field": "period_days", "reason": "must be 1–366"})
    if not 0 <= min_gap_hours <= 24 * 366:
        errors.append({"field": "min_gap_hours", "reason": "must be 0–8784"})
    if errors:
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        raise ValidationFailed(f"Pressure rule {name!r}: {detail}.", errors=errors)
    rule = session.scalars(select(PressureRule).where(PressureRule.name == name)).first()
    if rule is None:
        rule = PressureRule(name=name)
        session.add(rule)
    rule.channel, rule.max_messages, rule.period_days = channel, max_messages, period_days
    rule.min_gap_hours, rule.tier, rule.active = min_gap_hours, tier, active
    session.flush()
    return rule


def list_rules(session: Session) -> list[PressureRule]:
    """Every pressure rule, by name."""
    return list(session.scalars(select(PressureRule).order_by(PressureRule.name)))


def delete_rule(session: Session, name_or_id: str | int) -> None:
    """Delete a rule by name or id; NotFound when there is none."""
    stmt = select(PressureRule)
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        stmt = stmt.where(PressureRule.id == int(name_or_id))
    else:
        stmt = stmt.where(PressureRule.name == name_or_id)
    rule = session.scalars(stmt).first()
    if rule is None:
        raise NotFound(f"Pressure rule {name_or_id} does not exist.")
    session.delete(rule)
    session.flush()
