"""The responses' half of the funnel counters (:mod:`closedloop.campaigns.counters`): distinct
persons who opened, clicked and responded, per cell and per wave, counted from the responses
people made (machine reactions and responses still waiting for their message left out)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from closedloop.campaigns import counters
from closedloop.responses.models import Response
from closedloop.vocab import RESPONDING_KINDS
from closedloop.vocab import ResponseKind as RK

#: reactions that count as a response (an open is not one: mail clients open by themselves)
RESPONDING = tuple(sorted(RESPONDING_KINDS))
#: the kinds that move a counter
COUNTED = frozenset((RK.OPEN.value, RK.CLICK.value, *RESPONDING))


def response_counts(
    session: Session, campaign_id: int, persons: Sequence[int] | None = None
) -> counters.Counts:
    """Opened, clicked and responded persons per (scope, cell, wave), and the response rows
    of those kinds, counted from the responses (of ``persons`` only, when given)."""
    resp = Response
    out: counters.Counts = {}
    cell = func.coalesce(resp.cell_id, counters.member_cell(resp.person_id, campaign_id))
    counted = (
        counters.distinct_when(resp.kind == RK.OPEN.value, resp.person_id),
        counters.distinct_when(resp.kind == RK.CLICK.value, resp.person_id),
        counters.distinct_when(resp.kind.in_(RESPONDING), resp.person_id),
        func.count(case((resp.kind.in_(sorted(COUNTED)), resp.id))),  # the rows (a staleness check)
    )
    parts: Iterable[Sequence[int] | None] = (
        [None] if persons is None else (persons[i : i + 500] for i in range(0, len(persons), 500))
    )
    for part in parts:
        where: list[Any] = [
            counters.of_campaign(resp.campaign_id, campaign_id, by_person=part is not None),
            resp.machine.is_(None),
            resp.person_id.is_not(None),
        ]
        if part is not None:
            where.append(resp.person_id.in_(part))
        for scope, keys in ((counters.CELL, [cell]), (counters.WAVE, [cell, resp.wave_id])):
            rows = session.execute(select(*keys, *counted).where(*where).group_by(*keys)).all()
            counters.add_rows(out, scope, rows, len(keys), counters.RESPONSE_COLUMNS)
    return out


def tracking(session: Session, rows: Iterable[dict[str, Any]]) -> counters.Tracked:
    """A :class:`~closedloop.campaigns.counters.Tracked` for storing new responses ``rows``
    (only those that can move a counter: a person's, of a campaign, of a counted kind)."""
    pairs = {
        (int(r["campaign_id"]), int(r["person_id"]))
        for r in rows
        if r.get("campaign_id") is not None
        and r.get("person_id") is not None
        and r.get("machine") is None
        and r.get("kind") in COUNTED
    }
    return counters.Tracked(session, pairs, response_counts)


def recount(session: Session, campaign_id: int) -> counters.Counts:
    """A campaign's counters counted from scratch (messages and responses)."""
    out = counters.message_counts(session, campaign_id)
    for key, values in response_counts(session, campaign_id).items():
        out.setdefault(key, {}).update(values)
    return out


def rebuild(session: Session, campaign_id: int) -> int:
    """Recount campaign ``campaign_id``'s counters from its rows and store them; returns the
    number of counter rows. The caller commits."""
    found = recount(session, campaign_id)
    counters.replace(session, campaign_id, found)
    return len(found)


def response_rows(session: Session, campaign_id: int) -> int:
    """The campaign's response rows the counters count (a person's, not a machine's, of a
    counted kind, of a member or a cell): stored counters whose ``responses`` add up to
    another number miss rows written behind the capture's back."""
    resp = Response
    cell = func.coalesce(resp.cell_id, counters.member_cell(resp.person_id, campaign_id))
    return int(
        session.execute(
            select(func.count()).where(
                resp.campaign_id == campaign_id,
                resp.kind.in_(sorted(COUNTED)),
                resp.machine.is_(None),
                resp.person_id.is_not(None),
                cell.is_not(None),
            )
        ).scalar_one()
    )
