"""A/B tests with an automatic winner (M13): the test cells go to a share of the audience, the
winner is picked on a named metric after a set time, and the rest get the winner's treatment.

At extraction (:mod:`closedloop.campaigns.assignment`), only ``ab_test_share`` of the
treatment audience is assigned to the test cells; the others wait (funnel stage
``ab_pending``). :func:`decide` — run by the ``campaigns.ab_winner`` job once
``ab_decide_after_hours`` have passed since the wave's messages left, or by
``closedloop campaigns ab-decide`` — counts, per test cell, the persons sent a message who
responded with the metric's kind (``open``, ``click``, ``purchase``), picks the best rate (ties:
the lower cell id), stores it, and extracts the wave again: the waiting persons are assigned to
the winner and queued.

The responses are read through the ``responses`` table's name, not the responses package
(which sits above campaigns in the layers): three columns, read-only; machines' reactions
(privacy proxies, link scanners) do not count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import column, func, select, table
from sqlalchemy.orm import Session

from closedloop.campaigns.coordination import take_lock
from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.extraction import ExtractionResult, extract_wave
from closedloop.campaigns.models import Cell, Communication, Wave
from closedloop.campaigns.targeting import find_campaign
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Conflict
from closedloop.jobs.service import JobContext, Retry, enqueue
from closedloop.vocab import CommunicationStatus as St

AB_KIND = "campaigns.ab_winner"
_responses = table("responses", column("communication_id"), column("kind"), column("machine"))
_SENT = (St.SENT.value, St.DELIVERED.value)


@dataclass
class CellRate:
    """A test cell's result: messages sent, persons who responded with the metric, the rate."""

    cell_id: int
    code: str
    sent: int
    responded: int

    @property
    def rate(self) -> float:
        """Responders per message sent (0 when none was sent)."""
        return self.responded / self.sent if self.sent else 0.0


@dataclass
class Decision:
    """The outcome of an A/B decision."""

    campaign_id: int
    metric: str
    winner_cell_id: int | None
    cells: list[dict[str, Any]] = field(default_factory=list)
    waves: list[dict[str, Any]] = field(default_factory=list)
    decided_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


def rates(session: Session, campaign_id: int, metric: str) -> list[CellRate]:
    """Each treatment cell's sent messages and responders on ``metric``."""
    cells = session.scalars(
        select(Cell).where(Cell.campaign_id == campaign_id, Cell.is_control.is_(False))
    ).all()
    sent = dict(
        session.execute(
            select(Communication.cell_id, func.count(Communication.id))
            .where(Communication.campaign_id == campaign_id, Communication.status.in_(_SENT))
            .group_by(Communication.cell_id)
        ).all()
    )
    responded = dict(
        session.execute(
            select(Communication.cell_id, func.count(func.distinct(Communication.person_id)))
            .join(_responses, _responses.c.communication_id == Communication.id)
            .where(Communication.campaign_id == campaign_id, _responses.c.kind == metric)
            .where(_responses.c.machine.is_(None))  # a scanner's click is not a person's
            .group_by(Communication.cell_id)
        ).all()
    )
    return [CellRate(c.id, c.code, int(sent.get(c.id, 0)), int(responded.get(c.id, 0)))
            for c in sorted(cells, key=lambda c: c.id)]  # fmt: skip


def due_at(session: Session, campaign_id: int, targeting: CampaignTargeting) -> datetime | None:
    """When the test can be decided: the last test message's send time plus the delay."""
    last = session.scalar(
        select(func.max(Communication.sent_at)).where(Communication.campaign_id == campaign_id)
    )
    if last is None:
        return None
    return as_utc(last) + timedelta(hours=targeting.ab_decide_after_hours or 24.0)


def decide(session: Session, ref: str | int, *, now: datetime | None = None,
           force: bool = False) -> Decision:  # fmt: skip
    """Pick the A/B winner of campaign ``ref`` and extract its waves again for the rest.
    Conflict when the campaign runs no A/B test, nothing was sent yet, or (unless ``force``)
    the decision time has not come."""
    take_lock(session)
    campaign = find_campaign(session, ref)
    targeting = session.get(CampaignTargeting, campaign.id)
    if targeting is None or targeting.ab_test_share is None:
        raise Conflict(f"Campaign {campaign.code} runs no A/B test with an automatic winner.")
    metric = targeting.ab_metric or "click"
    now = as_utc(now or utcnow())
    decision = Decision(campaign.id, metric, targeting.ab_winner_cell_id)
    if targeting.ab_winner_cell_id is None:
        due = due_at(session, campaign.id, targeting)
        if due is None:
            raise Conflict(f"Campaign {campaign.code}: no test message was sent yet.")
        if now < due and not force:
            raise Conflict(
                f"Campaign {campaign.code}: the winner is picked at {due:%Y-%m-%d %H:%M} UTC."
            )
        found = rates(session, campaign.id, metric)
        best = max(found, key=lambda r: (r.rate, -r.cell_id))
        targeting.ab_winner_cell_id, targeting.ab_decided_at = best.cell_id, now
        decision.cells = [{**asdict(r), "rate": r.rate} for r in found]
    decision.winner_cell_id, decision.decided_at = (
        targeting.ab_winner_cell_id,
        targeting.ab_decided_at,
    )
    session.flush()
    for wave_id in session.scalars(select(Wave.id).where(Wave.campaign_id == campaign.id)):
        result: ExtractionResult = extract_wave(session, wave_id, now=now)
        decision.waves.append(result.as_dict())
    return decision


def queue_decision(session: Session, ref: str | int, *, created_by: str | None = None) -> int:
    """Queue the ``campaigns.ab_winner`` job of campaign ``ref``; returns the job id."""
    campaign = find_campaign(session, ref)
    job = enqueue(session, AB_KIND, {"campaign_id": campaign.id}, created_by=created_by,
                  max_attempts=50)  # fmt: skip
    return job.id


def ab_handler(ctx: JobContext) -> dict[str, Any]:
    """Job ``campaigns.ab_winner``: decide when due (else run again then), then queue the rest."""
    from closedloop.campaigns.send_job import queue_send
    from closedloop.db.uow import unit_of_work

    campaign_id = int(ctx.payload["campaign_id"])
    with unit_of_work(ctx.factory) as session:
        targeting = session.get(CampaignTargeting, campaign_id)
        due = due_at(session, campaign_id, targeting) if targeting else None
    if targeting is not None and targeting.ab_winner_cell_id is None:
        if due is None:
            raise Retry("no test message sent yet", 3600.0)
        if utcnow() < due:
            raise Retry("waiting for the decision time", (due - utcnow()).total_seconds())
    with unit_of_work(ctx.factory) as session:
        decision = decide(session, campaign_id)
        for wave in decision.waves:
            if wave["queued"]:
                queue_send(session, int(wave["wave_id"]))
    return decision.as_dict()


HANDLERS: dict[str, Any] = {AB_KIND: ab_handler}
