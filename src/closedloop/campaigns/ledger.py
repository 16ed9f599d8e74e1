"""The send ledger: a wave's ``communications`` rows (the lease of the wave's sender is in
:mod:`closedloop.campaigns.send_lease`).

The contract between extraction and sending (see ``docs/concepts/channels.md``):

- extraction inserts one ``queued`` row per (wave, person) with its cell and channel
  (:func:`queue_rows` does it for a list of persons, skipping those already in the wave);
- the sender holding the wave's lease (:class:`SendRun`) reads ``queued`` rows in id order,
  marks those it is about to hand over ``sending`` (:func:`mark_sending`, in the same
  transaction as its lease heartbeat: a sender that lost its lease cannot mark anything), then
  records each outcome (:func:`record`);
- rows still ``sending`` when a new sender takes over were possibly handed over: they become
  ``unconfirmed`` (never sent again) unless the channel can tell
  (:func:`closedloop.campaigns.send_prepare.settle_unfinished`).

Queries here never commit; the sender owns its transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from closedloop.campaigns import counters
from closedloop.campaigns.models import Campaign, Cell, Communication, Wave
from closedloop.campaigns.send_lease import heartbeat
from closedloop.db.base import utcnow
from closedloop.errors import Conflict, NotFound
from closedloop.vocab import Channel
from closedloop.vocab import CommunicationStatus as St

#: Rows that hold (or held) a message for their person: a second row of the same person in
#: the wave is skipped.
HANDED_OVER = (St.SENDING.value, St.SENT.value, St.UNCONFIRMED.value)


@dataclass(frozen=True)
class LedgerRow:
    """A queued row as the sender reads it."""

    id: int
    person_id: int
    cell_id: int | None
    channel: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What to write on a row: its new status and what goes with it."""

    id: int
    status: St
    detail: str | None = None
    external_ref: str | None = None
    recipient: str | None = None
    subject: str | None = None
    retry_at: datetime | None = None
    attempts: int | None = None


def queue_rows(session: Session, wave_id: int, cell_id: int, person_ids: Iterable[int]) -> int:
    """Queue a message of ``cell_id`` for each person not yet in the wave; returns how many."""
    wave = session.get(Wave, wave_id)
    cell = session.get(Cell, cell_id)
    if wave is None or cell is None or cell.campaign_id != wave.campaign_id:
        raise NotFound(f"Wave {wave_id} has no cell {cell_id}.")
    if cell.is_control or not cell.channel:
        raise Conflict(f"Cell {cell.code} sends nothing (control group or no channel).")
    ids = list(dict.fromkeys(person_ids))
    present: set[int] = set()
    for start in range(0, len(ids), 900):
        present |= set(
            session.scalars(
                select(Communication.person_id).where(
                    Communication.wave_id == wave_id,
                    Communication.person_id.in_(ids[start : start + 900]),
                )
            )
        )
    rows = [
        {
            "person_id": pid,
            "campaign_id": wave.campaign_id,
            "wave_id": wave_id,
            "cell_id": cell_id,
            "channel": cell.channel,
            "status": St.QUEUED.value,
            "attempts": 0,
        }
        for pid in ids
        if pid not in present
    ]
    if rows:
        session.execute(insert(Communication), rows)
    return len(rows)


#: Channels whose messages people work (the agents' call desk, closedloop.responses.calldesk):
#: the sender leaves their rows queued for the desk.
AGENT_CHANNELS = (Channel.PHONE.value,)


def due_rows(
    session: Session, wave_id: int, *, after_id: int, limit: int, now: datetime
) -> list[LedgerRow]:
    """The next ``limit`` queued rows after ``after_id`` that may be tried now, in id order."""
    rows = session.execute(
        select(
            Communication.id,
            Communication.person_id,
            Communication.cell_id,
            Communication.channel,
            Communication.attempts,
        )
        .where(
            Communication.wave_id == wave_id,
            Communication.status == St.QUEUED.value,
            Communication.id > after_id,
            Communication.channel.not_in(AGENT_CHANNELS),
            or_(Communication.next_attempt_at.is_(None), Communication.next_attempt_at <= now),
        )
        .order_by(Communication.id)
        .limit(limit)
    ).all()
    return [LedgerRow(r.id, r.person_id, r.cell_id, r.channel, r.attempts) for r in rows]


def already_handed_over(
    session: Session, wave_id: int, person_ids: Sequence[int], exclude_ids: Sequence[int]
) -> dict[int, int]:
    """Person → id of another row of the wave that already holds their message."""
    found: dict[int, int] = {}
    for start in range(0, len(person_ids), 900):
        for row_id, pid in session.execute(
            select(Communication.id, Communication.person_id).where(
                Communication.wave_id == wave_id,
                Communication.person_id.in_(person_ids[start : start + 900]),
                Communication.status.in_(HANDED_OVER),
                Communication.id.not_in(exclude_ids),
            )
        ).all():
            found.setdefault(pid, row_id)
    return found


def mark_sending(
    session: Session, wave_id: int, holder: str, refs: dict[int, str | None]
) -> set[int]:
    """Mark the rows of ``refs`` (id → reference such as the Message-ID) ``sending`` and renew
    the lease; returns the ids marked (a row deleted or changed meanwhile is not).

    :class:`LeaseLost` when another sender holds the wave now.
    """
    heartbeat(session, wave_id, holder)
    ids = list(refs)
    marked = set(
        session.scalars(
            update(Communication)
            .where(Communication.id.in_(ids), Communication.status == St.QUEUED.value)
            .values(status=St.SENDING.value, attempts=Communication.attempts + 1)
            .returning(Communication.id)
        )
    )
    with_ref = [{"id": i, "external_ref": refs[i]} for i in ids if i in marked and refs[i]]
    if with_ref:
        _update_by_id(session, ["external_ref"], with_ref)
    return marked


def record(session: Session, outcomes: Sequence[Outcome], *, now: datetime | None = None) -> None:
    """Write ``outcomes`` (executemany by primary key)."""
    if not outcomes:
        return
    when = now or utcnow()
    values: list[dict[str, Any]] = []
    for o in outcomes:
        row: dict[str, Any] = {
            "id": o.id,
            "status": o.status.value,
            "detail": o.detail and o.detail[:500],
        }
        if o.status in (St.SENT, St.UNCONFIRMED):
            row["sent_at"] = when
        if o.external_ref is not None:
            row["external_ref"] = o.external_ref[:200]
        if o.recipient is not None:
            row["recipient"] = o.recipient[:500]
        if o.subject is not None:
            row["subject"] = o.subject[:300]
        if o.attempts is not None:
            row["attempts"] = o.attempts
        row["next_attempt_at"] = o.retry_at
        values.append(row)
    keys = sorted({k for v in values for k in v})
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for v in values:
        by_shape.setdefault(tuple(k for k in keys if k in v), []).append(v)
    with counters.tracking_messages(session, [o.id for o in outcomes]):
        for shape, shape_rows in by_shape.items():
            _update_by_id(session, [k for k in shape if k != "id"], shape_rows)


def _update_by_id(session: Session, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """One Core executemany ``UPDATE … WHERE id = ?`` (the ORM's bulk path costs more)."""
    table = cast(Table, Communication.__table__)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
    session.connection().execute(
        stmt, [{"row_id": r["id"], **{f"v_{c}": r[c] for c in columns}} for r in rows]
    )


def counts(session: Session, wave_id: int) -> dict[str, int]:
    """Rows of the wave per status."""
    rows = session.execute(
        select(Communication.status, func.count())
        .where(Communication.wave_id == wave_id)
        .group_by(Communication.status)
    ).all()
    return {status: int(n) for status, n in rows}


def next_retry_at(session: Session, wave_id: int) -> datetime | None:
    """When the earliest queued row waiting for a retry may be tried."""
    return session.scalar(
        select(func.min(Communication.next_attempt_at)).where(
            Communication.wave_id == wave_id,
            Communication.status == St.QUEUED.value,
            Communication.channel.not_in(AGENT_CHANNELS),
        )
    )


def unfinished(session: Session, wave_id: int) -> list[tuple[int, str | None]]:
    """(id, reference) of the rows left ``sending`` by a sender that stopped."""
    return [
        (int(i), ref)
        for i, ref in session.execute(
            select(Communication.id, Communication.external_ref)
            .where(Communication.wave_id == wave_id, Communication.status == St.SENDING.value)
            .order_by(Communication.id)
        ).all()
    ]


def wave_purpose(session: Session, wave_id: int) -> tuple[Wave, Campaign]:
    """The wave and its campaign; NotFound when the wave does not exist."""
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise NotFound(f"Wave {wave_id} does not exist.")
    campaign = session.get(Campaign, wave.campaign_id)
    assert campaign is not None
    return wave, campaign


#: States of a wave or its campaign in which nothing of the wave may be sent.
HELD = {"paused": "paused", "cancelled": "cancelled"}


def hold_reason(session: Session, wave_id: int) -> str | None:
    """Why the wave may not be sent now (it or its campaign is paused or cancelled), or None."""
    row = session.execute(
        select(Wave.status, Campaign.status, Campaign.code)
        .join(Campaign, Campaign.id == Wave.campaign_id)
        .where(Wave.id == wave_id)
    ).first()
    if row is None:
        return None
    wave_status, campaign_status, code = row
    if campaign_status in HELD:
        return f"campaign {code} is {HELD[campaign_status]}"
    if wave_status in HELD:
        return f"wave {wave_id} is {HELD[wave_status]}"
    return None
