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


#: a report's note when its counters could not be used as stored
STALE = (
    "funnel counters out of date: messages or responses were written outside the sender and "
    "the capture (a bulk load, an import of history, SQL), so this report counted the funnel "
    "from the rows (slower, same figures); `closedloop evaluation rebuild-counters {id}` "
    "stores them again"
)


@dataclass(frozen=True)
class Counted:
    """A campaign's funnel counts as a report reads them: the counters (or a recount), the
    messages per (cell, wave) and status, and why the stored counters were not used."""

    counts: counters.Counts
    statuses: counters.Statuses
    stale: bool = False


def counted(session: Session, campaign_id: int) -> Counted:
    """The campaign's counters, checked cheaply against its rows: per wave, the contacted and
    delivered messages by status (from an index, read for the members anyway) and the number
    of counted response rows. When they disagree — rows written behind the sender's and the
    capture's back — the funnel is recounted from the rows and ``stale`` is set; a campaign
    without counters is recounted too (stale only if the recount finds something)."""
    stored = counters.stored(session, campaign_id)
    statuses = counters.wave_statuses(session, campaign_id)
    if stored:
        rows = sum(
            int(v.get("responses", 0)) for (s, _, _), v in stored.items() if s == counters.CELL
        )
        fresh = not counters.messages_disagree(stored, statuses) and rows == (
            response_counters.response_rows(session, campaign_id)
        )
        if fresh:
            return Counted(stored, statuses)
    found = response_counters.recount(session, campaign_id)
    return Counted(
        found, statuses, stale=bool(stored) or any(any(v.values()) for v in found.values())
    )


def funnels(
    session: Session, campaign_id: int, found: Counted, *, by_wave: bool
) -> dict[tuple[int, int], Funnel]:
    """Funnel counts per (cell, wave) — wave 0 when ``by_wave`` is false — from the campaign's
    funnel counters (:func:`counted`), with its members counted live from the indexes.
    Members: everyone assigned to the cell; per wave, those the wave has a message for (not
    skipped). Per cell the counts are of distinct persons; per wave, of messages (one per
    person)."""
    scope = counters.WAVE if by_wave else counters.CELL
    members: dict[tuple[int, int], int] = (
        counters.wave_members(session, campaign_id, found.statuses)
        if by_wave
        else {(c, 0): n for c, n in counters.cell_members(session, campaign_id).items()}
    )
    values = {(c, w): v for (s, c, w), v in found.counts.items() if s == scope}
    out: dict[tuple[int, int], Funnel] = {}
    for key in sorted(set(values) | set(members)):
        v = values.get(key, {})
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


Touches = list[tuple[int, int, datetime]]  # (person, wave, sent_at)


def buyers(
    session: Session, campaign_id: int, low: datetime, high: datetime
) -> tuple[list[Purchase], Touches]:
    """The members' own-brand orders with ``low <= ordered_at < high`` (not cancelled or
    returned) and (person, wave, sent_at) of every message that left
    for those buyers, in one statement: each order joined with its buyer's messages (an
    order without one comes once, with none). Datetimes as the store gives them back."""
    o, m, comm = Order, CampaignMember, Communication
    rows = session.execute(
        select(
            o.id,
            o.person_id,
            m.cell_id,
            o.ordered_at,
            cast(o.total_amount, Float),
            comm.id,
            comm.wave_id,
            comm.sent_at,
        )
        .join(m, and_(m.person_id == o.person_id, m.campaign_id == campaign_id))
        .outerjoin(
            comm,
            and_(
                comm.person_id == o.person_id,
                comm.campaign_id == campaign_id,
                comm.status.in_(CONTACTED),
                comm.sent_at.is_not(None),
                comm.wave_id.is_not(None),
            ),
        )
        .where(
            o.ordered_at >= low,
            o.ordered_at < high,
            o.supplier.is_(None),
            o.status.not_in(NOT_PURCHASES),
        )
    ).tuples()
    orders: dict[int, Purchase] = {}
    messages: dict[int, tuple[int, int, datetime]] = {}
    for order_id, person, cell, at, amount, message_id, wave, sent_at in rows:
        if order_id not in orders:
            orders[order_id] = Purchase(person, cell, at, amount or 0.0)
        if message_id is not None and sent_at is not None:
            messages[message_id] = (person, wave, sent_at)
    return list(orders.values()), list(messages.values())


def campaign(session: Session, campaign_id: int) -> Campaign | None:
    """The campaign, or None."""
    return session.get(Campaign, campaign_id)
