"""Starting a wave: its extraction (targeting, tests, coordination, consent) queues its send
ledger and a ``campaigns.send`` job sends it; a wave scheduled later is started at its time by
a ``campaigns.start_wave`` job. The moves that call these are in
:mod:`closedloop.campaigns.lifecycle`. The caller owns the transaction.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns import service
from closedloop.campaigns.models import Communication, Wave
from closedloop.campaigns.send_job import queue_send
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Refused
from closedloop.vocab import CampaignStatus as S
from closedloop.vocab import CommunicationStatus as St

START_KIND = "campaigns.start_wave"


@dataclass
class WaveStart:
    """A wave started by launch (or at its time): its messages queued and its send job."""

    wave_id: int
    queued: int
    job_id: int


def _extract(session: Session, wave_id: int, now: datetime) -> Any:
    """The wave's extraction (targeting, tests, coordination, consent: queues its ledger)."""
    try:
        extraction = importlib.import_module("closedloop.campaigns.extraction")
    except ModuleNotFoundError as exc:
        raise Refused("Extraction is not installed in this version of closedloop.") from exc
    return extraction.extract_wave(session, wave_id, now=now)


def queued_count(session: Session, wave_id: int) -> int:
    """How many messages of the wave are queued."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Communication)
            .where(Communication.wave_id == wave_id, Communication.status == St.QUEUED.value)
        )
        or 0
    )


def start_wave(session: Session, wave: Wave, *, by: str | None, now: datetime) -> WaveStart:
    """Extract the wave and queue its sending (the wave is then running)."""
    _extract(session, wave.id, now)
    wave.status = S.RUNNING.value
    job = queue_send(session, wave.id, created_by=by)
    session.flush()
    return WaveStart(wave.id, queued_count(session, wave.id), job.id)


def start_due_wave(session: Session, wave_id: int, *, now: datetime | None = None) -> str:
    """The ``campaigns.start_wave`` job's work: start the wave if it is still due and its
    campaign is scheduled or running; says what happened."""
    now = now or utcnow()
    wave = session.get(Wave, wave_id)
    if wave is None:
        return f"wave {wave_id} no longer exists"
    campaign = service.get_campaign(session, wave.campaign_id)
    if wave.status != S.SCHEDULED.value or campaign.status not in (S.SCHEDULED, S.RUNNING):
        return f"not started: the wave is {wave.status}, the campaign {campaign.status}"
    if wave.scheduled_at is not None and as_utc(wave.scheduled_at) > now:
        return "not started: rescheduled later"
    start = start_wave(session, wave, by=None, now=now)
    campaign.status = S.RUNNING.value
    return f"started: {start.queued} message(s) queued, send job {start.job_id}"


def start_wave_handler(ctx: Any) -> dict[str, Any]:
    """Job ``campaigns.start_wave``: start a scheduled wave at its time."""
    from closedloop.db.uow import unit_of_work

    with unit_of_work(ctx.factory) as session:
        return {"result": start_due_wave(session, int(ctx.payload["wave_id"]))}


HANDLERS: dict[str, Any] = {START_KIND: start_wave_handler}
