"""What extraction reads about an audience, and the serialised section it runs in.

* :func:`take_lock` — every extraction first locks one row, so two extractions (threads,
  processes, on SQLite or PostgreSQL) never interleave and each checks pressure and capacity
  against the rows the other committed.
* :class:`Audience` — the persons of a target segment, with the SQL filter that selects them
  (a sub-select on a snapshot segment's members: one query per table whatever the size).
* :func:`values` — each person's value tier and CLV from the latest scoring run.
* :func:`one_per_household` — the persons to keep when a campaign addresses one per household.
* :func:`capacity_left` — how many more messages a channel takes in the period of a date.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from closedloop.campaigns.bulk import rows as rows_of
from closedloop.campaigns.coordination_models import ChannelCapacity, CoordinationLock
from closedloop.campaigns.models import Communication, Wave
from closedloop.campaigns.pressure import COUNTED, message_time
from closedloop.contacts.models import Relationship
from closedloop.db.base import utcnow
from closedloop.errors import NotFound
from closedloop.scoring.models import PersonScore
from closedloop.scoring.queries import latest_run
from closedloop.segments import SNAPSHOT, Segment, SegmentMember, member_ids

_CHUNK = 900
#: Capacity periods are counted from this Monday, so a 7-day period is an ISO week
#: (Monday to Sunday) and a day is a calendar day (UTC).
EPOCH = datetime(1970, 1, 5, tzinfo=UTC)


def take_lock(session: Session) -> None:
    """Lock the coordination row until the caller's transaction ends (PostgreSQL: a row lock;
    SQLite: the database's write lock, taken by this first write of the transaction)."""
    holder = f"{socket.gethostname()}:{os.getpid()}"
    stmt = update(CoordinationLock).where(CoordinationLock.id == 1)
    done = session.execute(stmt.values(taken_at=utcnow(), holder=holder)).rowcount  # type: ignore[attr-defined]
    if done:
        return
    try:
        with session.begin_nested():
            session.execute(insert(CoordinationLock).values(id=1, taken_at=utcnow(), holder=holder))
    except IntegrityError:  # another extraction made the row first: wait for it like any other
        session.execute(stmt.values(taken_at=utcnow(), holder=holder))


@dataclass
class Audience:
    """The persons of a target, and how SQL selects them."""

    ids: list[int]
    subquery: Select[Any] | None = None
    _set: set[int] = field(default_factory=set, repr=False)

    def filters(self, column: InstrumentedAttribute[int]) -> Iterator[ColumnElement[bool]]:
        """Conditions on ``column`` that, one after the other, cover the audience."""
        if self.subquery is not None:
            yield column.in_(self.subquery)
            return
        for start in range(0, len(self.ids), _CHUNK):
            yield column.in_(self.ids[start : start + _CHUNK])

    def __contains__(self, person_id: object) -> bool:
        if not self._set:
            self._set = set(self.ids)
        return person_id in self._set


def segment_audience(session: Session, segment_id: int) -> Audience:
    """The members of segment ``segment_id`` now: a snapshot's frozen members (selected in SQL
    by a sub-select), a dynamic segment's rule evaluated (:func:`closedloop.segments.member_ids`).
    """
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"Segment {segment_id} does not exist.")
    if segment.kind != SNAPSHOT:
        return Audience(member_ids(session, segment_id))
    sub = select(SegmentMember.person_id).where(SegmentMember.segment_id == segment_id)
    ids = [pid for (pid,) in rows_of(session, sub.order_by(SegmentMember.person_id))]
    return Audience(ids, sub)


@dataclass(frozen=True)
class Value:
    """A person's value tier and CLV (None when not scored)."""

    tier: str | None
    clv: float | None


def values(session: Session, audience: Audience) -> dict[int, Value]:
    """Each scored person's tier and CLV in the latest finished scoring run."""
    run = latest_run(session)
    if run is None:
        return {}
    out: dict[int, Value] = {}
    for cond in audience.filters(PersonScore.person_id):
        rows = rows_of(
            session,
            select(PersonScore.person_id, PersonScore.tier, PersonScore.clv).where(
                PersonScore.run_id == run.id, cond
            ),
        )
        for pid, tier, clv in rows:
            out[pid] = Value(tier, float(clv) if clv is not None else None)
    return out


def households(session: Session, audience: Audience) -> dict[int, int]:
    """The household of each person of the audience that has one (the lowest id if several)."""
    out: dict[int, int] = {}
    for cond in audience.filters(Relationship.person_id):
        rows = rows_of(
            session,
            select(Relationship.person_id, func.min(Relationship.household_id))
            .where(cond, Relationship.household_id.is_not(None))
            .group_by(Relationship.person_id),
        )
        out.update({pid: hid for pid, hid in rows if hid is not None})
    return out


def one_per_household(
    candidates: Sequence[int], household_of: dict[int, int], value_of: dict[int, Value]
) -> dict[int, int]:
    """The persons to leave out, each with the person kept for their household (the highest
    CLV, then the lowest id)."""
    best: dict[int, int] = {}
    for pid in candidates:
        hid = household_of.get(pid)
        if hid is None:
            continue
        kept = best.get(hid)
        if kept is None or _rank(pid, value_of) < _rank(kept, value_of):
            best[hid] = pid
    return {
        pid: best[household_of[pid]]
        for pid in candidates
        if pid in household_of and best[household_of[pid]] != pid
    }


def _rank(pid: int, value_of: dict[int, Value]) -> tuple[float, int]:
    value = value_of.get(pid)
    clv = value.clv if value is not None and value.clv is not None else float("-inf")
    return (-clv, pid)


def capacity_left(session: Session, channel: str, at: datetime) -> tuple[int, str] | None:
    """How many more messages ``channel`` takes in the period holding ``at``, and the period in
    words; None when the channel has no capacity set."""
    cap = session.get(ChannelCapacity, channel)
    if cap is None:
        return None
    days = max(cap.period_days, 1)
    index = (at - EPOCH).days // days
    start = EPOCH + timedelta(days=index * days)
    end = start + timedelta(days=days)
    when = message_time()
    used = session.scalar(
        select(func.count(Communication.id))
        .outerjoin(Wave, Wave.id == Communication.wave_id)
        .where(
            Communication.channel == channel,
            Communication.status.in_(COUNTED),
            when >= start,
            when < end,
        )
    )
    period = f"{start:%Y-%m-%d}" if days == 1 else f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
    return max(cap.max_messages - int(used or 0), 0), period


def set_capacity(session: Session, channel: str, max_messages: int, period_days: int = 1) -> None:
    """Set ``channel``'s capacity: at most ``max_messages`` per ``period_days`` days."""
    from closedloop.errors import ValidationFailed
    from closedloop.vocab import Channel

    errors = []
    if channel not in {c.value for c in Channel}:
        errors.append({"field": "channel", "reason": f"unknown channel {channel!r}"})
    if max_messages < 0:
        errors.append({"field": "max_messages", "reason": "must be 0 or more"})
    if not 1 <= period_days <= 366:
        errors.append({"field": "period_days", "reason": "must be 1–366"})
    if errors:
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        raise ValidationFailed(f"Capacity of {channel}: {detail}.", errors=errors)
    cap = session.get(ChannelCapacity, channel)
    if cap is None:
        session.add(ChannelCapacity(channel=channel, max_messages=max_messages,
                                    period_days=period_days))  # fmt: skip
    else:
        cap.max_messages, cap.period_days = max_messages, period_days
    session.flush()


def list_capacities(session: Session) -> list[ChannelCapacity]:
    """Every channel capacity, by channel."""
    return list(session.scalars(select(ChannelCapacity).order_by(ChannelCapacity.channel)))


def delete_capacity(session: Session, channel: str) -> None:
    """Remove ``channel``'s capacity (no limit then); NotFound when it has none."""
    cap = session.get(ChannelCapacity, channel)
    if cap is None:
        raise NotFound(f"Channel {channel} has no capacity set.")
    session.delete(cap)
    session.flush()
