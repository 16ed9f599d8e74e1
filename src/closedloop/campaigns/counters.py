"""Funnel counters: what a campaign's messages and responses add up to, per cell and per wave,
kept up to date as they change so that a report reads a few rows instead of a million.

One row of ``funnel_counts`` per (campaign, scope, cell, wave): scope ``cell`` (all waves;
``wave_id`` 0) counts distinct *persons*; scope ``wave`` counts the messages of one wave (one
per person that may leave). The counts are those of the from-scratch statements of
:func:`message_counts` (and ``responses.counters.response_counts``), which are additive over
disjoint sets of persons: a change is applied as the difference between the changed persons'
counts after and before it (:class:`Tracked`), so the counters stay equal to a recount
(``closedloop evaluation rebuild-counters`` recomputes them when in doubt).

Written by the sender (:func:`closedloop.campaigns.ledger.record`), the bounce and delivery
report handlers, and the response capture. Members (everyone assigned to a cell; per wave,
the messages not skipped) change with extraction and assignment and are counted live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Float, case, cast, delete, distinct, func, select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import CampaignMember, Cell, Communication, FunnelCount, Wave
from closedloop.vocab import CommunicationStatus as CS

#: statuses of a message that left for the person (sent; delivered or bounced later; or
#: unconfirmed: the sender died between the last step and its record, so it may have left)
CONTACTED = (CS.SENT.value, CS.DELIVERED.value, CS.BOUNCED.value, CS.UNCONFIRMED.value)
#: statuses of a message that reached them (a bounce turns the message's status to bounced)
DELIVERED = (CS.SENT.value, CS.DELIVERED.value)
#: the counted columns, messages' then responses'
MESSAGE_COLUMNS = ("contacted", "delivered", "cost", "costed")
RESPONSE_COLUMNS = ("opened", "clicked", "responded", "responses")
COLUMNS = MESSAGE_COLUMNS + RESPONSE_COLUMNS
CELL, WAVE = 0, 1  # scopes

Key = tuple[int, int, int]  # (scope, cell, wave)
Counts = dict[Key, dict[str, float]]
_CHUNK = 500
_LOCK = 0x46554E  # the advisory lock class of funnel counters


def member_cell(person: Any, campaign_id: int) -> Any:
    """The member's cell, for a row that does not carry its own (evaluated only then)."""
    m = CampaignMember
    return (
        select(m.cell_id)
        .where(m.campaign_id == campaign_id, m.person_id == person)
        .scalar_subquery()
    )


def of_campaign(column: Any, campaign_id: int, *, by_person: bool) -> Any:
    """``column == campaign_id``; for a count of a few persons, written so that no index can
    serve it: SQLite otherwise read all the campaign's rows through its campaign index for
    every batch the sender recorded (a send of 100,000 slowed to 10 ms of CPU a message),
    instead of the persons' rows through their person index."""
    return func.coalesce(column, 0) == campaign_id if by_person else column == campaign_id


def distinct_when(condition: Any, person: Any) -> Any:
    """Distinct persons for whom ``condition`` holds."""
    return func.count(distinct(case((condition, person))))


def _chunks(persons: Sequence[int] | None) -> Iterable[Sequence[int] | None]:
    if persons is None:
        yield None
        return
    for start in range(0, len(persons), _CHUNK):
        yield persons[start : start + _CHUNK]


def message_counts(
    session: Session, campaign_id: int, persons: Sequence[int] | None = None
) -> Counts:
    """Contacted, delivered, cost and costed messages per (scope, cell, wave), counted from
    the messages (of ``persons`` only, when given)."""
    comm = Communication
    out: Counts = {}
    sent = comm.status.in_(CONTACTED)
    cell = func.coalesce(comm.cell_id, member_cell(comm.person_id, campaign_id))
    money = (func.sum(case((sent, cast(comm.cost, Float)))), func.count(case((sent, comm.cost))))
    for part in _chunks(persons):
        where = [of_campaign(comm.campaign_id, campaign_id, by_person=part is not None)]
        if part is not None:
            where.append(comm.person_id.in_(part))
        for scope, keys, counted in (
            (
                CELL,
                [cell],
                (
                    distinct_when(sent, comm.person_id),
                    distinct_when(comm.status.in_(DELIVERED), comm.person_id),
                ),
            ),
            (
                WAVE,
                [cell, comm.wave_id],
                (
                    func.count(case((sent, comm.id))),
                    func.count(case((comm.status.in_(DELIVERED), comm.id))),
                ),
            ),
        ):
            rows = session.execute(
                select(*keys, *counted, *money).where(*where).group_by(*keys)
            ).all()
            add_rows(out, scope, rows, len(keys), MESSAGE_COLUMNS)
    return out


def add_rows(out: Counts, scope: int, rows: Any, width: int, columns: Sequence[str]) -> None:
    """Add grouped ``rows`` (keys, then ``columns``) to ``out``; rows without a cell are
    left out (the person is no longer a member)."""
    for row in rows:
        if row[0] is None:
            continue
        key = (scope, int(row[0]), int(row[1] or 0) if width == 2 else 0)
        found = out.setdefault(key, {})
        for name, value in zip(columns, row[width:], strict=True):
            found[name] = found.get(name, 0.0) + float(value or 0)


def stored(session: Session, campaign_id: int) -> Counts:
    """The counters of a campaign as stored."""
    f = FunnelCount
    rows = session.execute(
        select(f.scope, f.cell_id, f.wave_id, *(getattr(f, c) for c in COLUMNS)).where(
            f.campaign_id == campaign_id
        )
    ).all()
    out: Counts = {}
    for r in rows:
        out[(int(r[0]), int(r[1]), int(r[2]))] = dict(
            zip(COLUMNS, (float(v or 0) for v in r[3:]), strict=True)
        )
    return out


def add(session: Session, campaign_id: int, before: Counts, after: Counts) -> None:
    """Apply ``after - before`` to the stored counters (rows created as needed)."""
    f = FunnelCount
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, {}), after.get(key, {})
        delta = {c: new.get(c, 0.0) - old.get(c, 0.0) for c in COLUMNS}
        if not any(delta.values()):
            continue
        scope, cell_id, wave_id = key
        row = session.get(f, (campaign_id, scope, cell_id, wave_id))
        if row is None:
            row = f(campaign_id=campaign_id, scope=scope, cell_id=cell_id, wave_id=wave_id)
            for c in COLUMNS:
                setattr(row, c, 0)
            session.add(row)
        for c, d in delta.items():
            if d:
                setattr(row, c, (getattr(row, c) or 0) + (d if c == "cost" else int(d)))
    session.flush()


def replace(session: Session, campaign_id: int, counts: Counts) -> None:
    """Store ``counts`` as the campaign's counters (a rebuild)."""
    session.execute(delete(FunnelCount).where(FunnelCount.campaign_id == campaign_id))
    add(session, campaign_id, {}, counts)


Counter = Callable[[Session, int, Sequence[int]], Counts]


class Tracked:
    """Counts the persons a change touches before it, and applies the difference after::

    with Tracked(session, {(campaign_id, person_id), ...}, message_counts):
        ...change their messages...
    """

    def __init__(self, session: Session, pairs: Iterable[tuple[int, int]], count: Counter):
        self.session, self.count = session, count
        self.persons: dict[int, list[int]] = {}
        for campaign_id, person_id in sorted(set(pairs)):
            self.persons.setdefault(campaign_id, []).append(person_id)
        self.before: dict[int, Counts] = {}

    def __enter__(self) -> Tracked:
        postgres = self.session.get_bind().dialect.name == "postgresql"
        for campaign_id, persons in self.persons.items():
            if postgres:
                # two writers changing the same campaign would each see the other's rows in
                # their "after" (read committed): one at a time per campaign, to the commit
                self.session.execute(select(func.pg_advisory_xact_lock(_LOCK, campaign_id % 2**31)))
            self.before[campaign_id] = self.count(self.session, campaign_id, persons)
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is not None:
            return
        self.session.flush()
        for campaign_id, persons in self.persons.items():
            after = self.count(self.session, campaign_id, persons)
            add(self.session, campaign_id, self.before[campaign_id], after)


def message_persons(session: Session, ids: Iterable[int]) -> set[tuple[int, int]]:
    """(campaign, person) of the messages ``ids`` that belong to a campaign."""
    c = Communication
    id_list = sorted(set(ids))
    out: set[tuple[int, int]] = set()
    for start in range(0, len(id_list), _CHUNK):
        out.update(
            (int(a or 0), int(b))
            for a, b in session.execute(
                select(c.campaign_id, c.person_id).where(
                    c.id.in_(id_list[start : start + _CHUNK]), c.campaign_id.is_not(None)
                )
            )
        )
    return out


def tracking_messages(session: Session, ids: Iterable[int]) -> Tracked:
    """A :class:`Tracked` for a change of the messages ``ids`` (their status or cost)."""
    return Tracked(session, message_persons(session, ids), message_counts)


Statuses = dict[tuple[int, int], dict[str, int]]  # (cell, wave) → status → messages


def wave_statuses(session: Session, campaign_id: int) -> Statuses:
    """(cell, wave) → messages per status, for every (cell, wave) with a message. Counted per
    (wave, cell, status) from the index alone; the few rows without a cell of their own take
    their member's."""
    comm = Communication
    waves = select(Wave.id).where(Wave.campaign_id == campaign_id)
    rows = session.execute(
        select(comm.wave_id, comm.cell_id, comm.status, func.count())
        .where(comm.wave_id.in_(waves))
        .group_by(comm.wave_id, comm.cell_id, comm.status)
    ).all()
    if any(cell is None for _, cell, _, _ in rows):
        cell = member_cell(comm.person_id, campaign_id)
        rows = [r for r in rows if r[1] is not None] + list(
            session.execute(
                select(comm.wave_id, cell, comm.status, func.count())
                .where(comm.wave_id.in_(waves), comm.cell_id.is_(None))
                .group_by(comm.wave_id, cell, comm.status)
            ).all()
        )
    out: Statuses = {}
    for wave_id, cell_id, status, n in rows:
        if cell_id is None:
            continue
        found = out.setdefault((int(cell_id), int(wave_id or 0)), {})
        found[str(status)] = found.get(str(status), 0) + int(n)
    return out


def wave_members(
    session: Session, campaign_id: int, statuses: Statuses | None = None
) -> dict[tuple[int, int], int]:
    """(cell, wave) → messages that are not skipped, for every (cell, wave) with a message
    (from :func:`wave_statuses`, read again unless given)."""
    if statuses is None:
        statuses = wave_statuses(session, campaign_id)
    return {
        key: sum(n for status, n in found.items() if status != CS.SKIPPED.value)
        for key, found in statuses.items()
    }


def messages_disagree(stored: Counts, statuses: Statuses) -> bool:
    """True when the stored per-wave contacted and delivered counts differ from the messages'
    statuses (:func:`wave_statuses`): messages were written or changed behind the sender's
    back. Free: the statuses are read for the members anyway."""
    keys = {(c, w) for (s, c, w) in stored if s == WAVE and w} | set(statuses)
    for cell_id, wave_id in keys:
        have = stored.get((WAVE, cell_id, wave_id), {})
        found = statuses.get((cell_id, wave_id), {})
        for column, kinds in (("contacted", CONTACTED), ("delivered", DELIVERED)):
            if int(have.get(column, 0)) != sum(found.get(k, 0) for k in kinds):
                return True
    return False


def cell_members(session: Session, campaign_id: int) -> dict[int, int]:
    """Cell → members assigned (from the index alone); a cell of the campaign with messages
    but nobody assigned (messages written without an assignment) counts the persons its
    messages went to."""
    m, comm = CampaignMember, Communication
    rows = session.execute(
        select(m.cell_id, func.count()).where(m.campaign_id == campaign_id).group_by(m.cell_id)
    )
    out = {int(c): int(n) for c, n in rows}
    missing = [
        c
        for c in session.scalars(select(Cell.id).where(Cell.campaign_id == campaign_id))
        if c not in out
    ]
    if missing:
        rows = session.execute(
            select(comm.cell_id, func.count(distinct(comm.person_id)))
            .where(comm.campaign_id == campaign_id, comm.cell_id.in_(missing))
            .group_by(comm.cell_id)
        )
        out.update({int(c): int(n) for c, n in rows if c is not None})
    return out
