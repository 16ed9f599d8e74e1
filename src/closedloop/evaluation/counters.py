"""The funnel counters a report reads (:mod:`closedloop.campaigns.counters`): check them
against a recount, and rebuild them from the rows (after a bulk load, a restore, or a change
made outside the product)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns import counters
from closedloop.campaigns.models import Campaign
from closedloop.errors import NotFound
from closedloop.responses import counters as response_counters


@dataclass(frozen=True)
class Drift:
    """A counter that differs from its recount."""

    campaign_id: int
    scope: str
    cell_id: int
    wave_id: int
    column: str
    stored: float
    counted: float


def _campaigns(session: Session, campaign_id: int | None) -> list[int]:
    if campaign_id is None:
        return list(session.scalars(select(Campaign.id).order_by(Campaign.id)))
    if session.get(Campaign, campaign_id) is None:
        raise NotFound(f"Campaign {campaign_id} does not exist.")
    return [campaign_id]


def check_counters(session: Session, campaign_id: int | None = None) -> list[Drift]:
    """Every counter of campaign ``campaign_id`` (every campaign when None) that differs from
    a from-scratch recount of its messages and responses; empty when all agree."""
    out: list[Drift] = []
    for cid in _campaigns(session, campaign_id):
        have = counters.stored(session, cid)
        want = response_counters.recount(session, cid)
        for key in sorted(set(have) | set(want)):
            scope, cell_id, wave_id = key
            for column in counters.COLUMNS:
                a = have.get(key, {}).get(column, 0.0)
                b = want.get(key, {}).get(column, 0.0)
                if abs(a - b) > 1e-6 * max(1.0, abs(b)):
                    name = "cell" if scope == counters.CELL else "wave"
                    out.append(Drift(cid, name, cell_id, wave_id, column, a, b))
    return out


def rebuild_counters(session: Session, campaign_id: int | None = None) -> dict[int, int]:
    """Recount the funnel counters of campaign ``campaign_id`` (every campaign when None) from
    its messages and responses and store them; returns campaign → counter rows. NotFound
    for an unknown campaign. The caller commits."""
    ids = _campaigns(session, campaign_id)
    return {cid: response_counters.rebuild(session, cid) for cid in ids}
