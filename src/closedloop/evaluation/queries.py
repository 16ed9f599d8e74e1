"""The statements of an evaluation: counts per cell and per wave (the funnel counters), and
the few rows attribution needs (the members who bought in the window and their messages).
Nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, and_, cast, func, select
from sqlalchemy.orm import Session

from closedloop.campaigns import counters
from closedloop.campaigns.models import Campaign, CampaignMember, Cell, Communication, Wave
from closedloop.db.base import as_utc
from closedloop.responses import counters as response_counters
from closedloop.transactions.models import Order

CONTACTED = counters.CONTACTED
DELIVERED = counters.DELIVERED
RESPONDING = response_counters.RESPONDING
#: order statuses that are not a purchase
NOT_PURCHASES = ("cancelled", "returned")


@dataclass(frozen=True)
class Funnel:
    """What happened to one group (a cell, or a cell within a wave): counts of persons."""

    members: int = 0
    contacted: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    responded: int = 0
    cost: float = 0.0
    costed: int = 0  # messages with a recorded cost (otherwise the cell's unit cost is used)


def cells(session: Session, campaign_id: int) -> list[Cell]:
    """The cells of a campaign, in id order."""
    return list(
        session.scalars(select(Cell).where(Cell.campaign_id == campaign_id).order_by(Cell.id))
    )


@dataclass(frozen=True)
class WaveTimes:
    """A wave's name, its start (first message sent, else its scheduled time) and last send."""

    name: str
    start: datetime | None
    last: datetime | None


def wave_times(session: Session, campaign_id: int) -> dict[int, WaveTimes]:
    """Each wave of the campaign with its start and its last message sent, in id order."""
    comm = Communication
    sent = (comm.wave_id == Wave.id, comm.sent_at.is_not(None))
    # one index probe per wave each (ix_communications_wave_sent), not a scan of its messages
    first = select(func.min(comm.sent_at)).where(*sent).scalar_subquery()
    last = select(func.max(comm.sent_at)).where(*sent).scalar_subquery()
    rows = session.execute(
        select(Wave.id, Wave.name, Wave.scheduled_at, first.label("first"), last.label("last"))
        .where(Wave.campaign_id == campaign_id)
        .order_by(Wave.id)
    )
    out: dict[int, WaveTimes] = {}
    for r in rows:
        start = r.first or r.scheduled_at
        out[r.id] = WaveTimes(
            r.name, as_utc(start) if start else None, as_utc(r.last or start) if start else None
        )
    return out


def funnels(session: Session, campaign_id: int, *, by_wave: bool) -> dict[tuple[int, int], Funnel]:
    """Funnel counts per (cell, wave) — wave 0 when ``by_wave`` is false — read from the
    campaign's funnel counters (kept by the sender and the capture; recounted from the rows
    when a campaign has none yet), with its members counted live from the indexes. Members:
    everyone assigned to the cell; per wave, those the wave has a message for (not skipped).
    Per cell the counts are of distinct persons; per wave, of messages (one per person)."""
    stored = counters.stored(session, campaign_id)
    if not stored:
        stored = response_counters.recount(session, campaign_id)
    scope = counters.WAVE if by_wave else counters.CELL
    members: dict[tuple[int, int], int] = (
        counters.wave_members(session, campaign_id)
        if by_wave
        else {(c, 0): n for c, n in counters.cell_members(session, campaign_id).items()}
    )
    found = {(c, w): v for (s, c, w), v in stored.items() if s == scope}
    out: dict[tuple[int, int], Funnel] = {}
    for key in sorted(set(found) | set(members)):
        v = found.get(key, {})
        out[key] = Funnel(
            members.get(key, 0),
            int(v.get("contacted", 0)),
            int(v.get("delivered", 0)),
            int(v.get("opened", 0)),
            int(v.get("clicked", 0)),
            int(v.get("responded", 0)),
            float(v.get("cost", 0.0)),
            int(v.get("costed", 0)),
        )
    return out


@dataclass(frozen=True)
class Purchase:
    """An order of a campaign member inside the campaign's broad window."""

    person_id: int
    cell_id: int
    at: datetime
    amount: float


def purchases(session: Session, campaign_id: int, low: datetime, high: datetime) -> list[Purchase]:
    """Members' own-brand orders with ``low <= ordered_at < high`` (not cancelled or returned)."""
    o, m = Order, CampaignMember
    rows = session.execute(
        select(o.person_id, m.cell_id, o.ordered_at, cast(o.total_amount, Float))
        .join(m, and_(m.person_id == o.person_id, m.campaign_id == campaign_id))
        .where(
            o.ordered_at >= low,
            o.ordered_at < high,
            o.supplier.is_(None),
            o.status.not_in(NOT_PURCHASES),
        )
    )
    return [Purchase(int(r[0]), int(r[1]), r[2], float(r[3] or 0)) for r in rows]


def buyers_touches(
    session: Session, campaign_id: int, low: datetime, high: datetime
) -> list[tuple[int, int, datetime]]:
    """(person, wave, sent_at) of every message that left for a member who bought in the window."""
    o, m, comm = Order, CampaignMember, Communication
    buyers = (
        select(o.person_id)
        .join(m, and_(m.person_id == o.person_id, m.campaign_id == campaign_id))
        .where(o.ordered_at >= low, o.ordered_at < high, o.supplier.is_(None))
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(comm.person_id, comm.wave_id, comm.sent_at)
        .join(buyers, buyers.c.person_id == comm.person_id)
        .where(
            comm.campaign_id == campaign_id,
            comm.status.in_(CONTACTED),
            comm.sent_at.is_not(None),
            comm.wave_id.is_not(None),
        )
    )
    return [(int(r[0]), int(r[1] or 0), r[2]) for r in rows if r[2] is not None]


def campaign(session: Session, campaign_id: int) -> Campaign | None:
    """The campaign, or None."""
    return session.get(Campaign, campaign_id)
