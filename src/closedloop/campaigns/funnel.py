"""A wave's funnel, read back from the store: how many of the target left at each stage, and
what became of the messages queued (the campaign page shows it; ``closedloop campaigns funnel``
prints it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns.coordination_models import Exclusion
from closedloop.campaigns.extraction import STAGES
from closedloop.campaigns.models import Communication, Wave
from closedloop.errors import NotFound
from closedloop.vocab import CommunicationStatus as St

#: Ledger statuses that mean the message left (or may have left).
SENT = (St.SENT.value, St.DELIVERED.value, St.BOUNCED.value, St.UNCONFIRMED.value)


@dataclass
class Step:
    """One line of the funnel: a stage, the persons it took out, those still in after it."""

    stage: str
    excluded: int
    remaining: int


@dataclass
class Funnel:
    """The funnel of a wave: target → exclusions by stage → queued → sent."""

    wave_id: int
    target: int
    steps: list[Step] = field(default_factory=list)
    queued: int = 0
    ledger: dict[str, int] = field(default_factory=dict)
    sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


def wave_funnel(session: Session, wave_id: int) -> Funnel:
    """The funnel of wave ``wave_id`` (NotFound when there is none)."""
    if session.get(Wave, wave_id) is None:
        raise NotFound(f"Wave {wave_id} does not exist.")
    excluded = dict(
        session.execute(
            select(Exclusion.stage, func.count(Exclusion.id))
            .where(Exclusion.wave_id == wave_id)
            .group_by(Exclusion.stage)
        ).all()
    )
    ledger = dict(
        session.execute(
            select(Communication.status, func.count(Communication.id))
            .where(Communication.wave_id == wave_id)
            .group_by(Communication.status)
        ).all()
    )
    queued = sum(ledger.values())
    target = queued + sum(excluded.values())
    funnel = Funnel(wave_id, target, queued=queued, ledger=ledger)
    remaining = target
    for stage in STAGES:
        n = int(excluded.get(stage, 0))
        remaining -= n
        funnel.steps.append(Step(stage, n, remaining))
    funnel.sent = sum(ledger.get(s, 0) for s in SENT)
    return funnel


def exclusions(
    session: Session, wave_id: int, *, stage: str | None = None, limit: int = 100, offset: int = 0
) -> list[Exclusion]:
    """The persons a wave left out (of one ``stage`` when given), with their reasons."""
    stmt = select(Exclusion).where(Exclusion.wave_id == wave_id)
    if stage:
        stmt = stmt.where(Exclusion.stage == stage)
    return list(session.scalars(stmt.order_by(Exclusion.id).limit(limit).offset(offset)))
