"""The campaign state machine: draft → approved → scheduled → running → completed, with
paused beside running and cancelled from any state before the end.

- **approve** checks the campaign is complete (a wave, a cell that sends, a template for each
  cell of a channel that needs one) and, when ``campaign_approval_by_other`` is set, that the
  approver is not its author;
- **launch** starts each wave that is due (extraction queues its send ledger, then a
  ``campaigns.send`` job sends it) and schedules the others (a ``campaigns.start_wave`` job at
  their time);
- **pause** holds every wave (the sender stops after the batch in hand); **resume** queues
  their sending again; **cancel** skips every message still queued;
- **edit** (:mod:`closedloop.campaigns.versions`): a draft changes in place; a running or
  paused campaign is frozen, so the edit makes a new version, and launching that version
  cancels the waves of the old one not yet started.

Starting a wave (its extraction and send job, and the ``campaigns.start_wave`` job) is in
:mod:`closedloop.campaigns.wave_start`.

The caller owns the transaction; every move raises :class:`Refused` naming the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from closedloop.campaigns import service
from closedloop.campaigns.models import Campaign, Communication, Wave
from closedloop.campaigns.send_job import queue_send
from closedloop.campaigns.wave_start import START_KIND, WaveStart, queued_count, start_wave
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Refused
from closedloop.jobs.service import enqueue
from closedloop.settings import get_settings
from closedloop.vocab import CampaignStatus as S
from closedloop.vocab import Channel
from closedloop.vocab import CommunicationStatus as St

#: Channels whose cells need a message template (a phone call works from a script).
NEEDS_TEMPLATE = {Channel.EMAIL.value, Channel.SMS.value, Channel.LETTER.value}
OPEN = {S.DRAFT.value, S.APPROVED.value, S.SCHEDULED.value, S.RUNNING.value, S.PAUSED.value}
#: Wave states in which nothing has been extracted yet.
NOT_STARTED = {S.DRAFT.value, S.APPROVED.value, S.SCHEDULED.value}


@dataclass
class LaunchReport:
    """What launch did: the campaign's new state, the waves started and those scheduled."""

    campaign_id: int
    status: str
    started: list[WaveStart] = field(default_factory=list)
    scheduled: list[int] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)


def require(campaign: Campaign, action: str, allowed: set[str]) -> None:
    """Refuse the move ``action`` unless the campaign is in one of the ``allowed`` states."""
    if campaign.status not in allowed:
        raise Refused(
            f"Campaign {campaign.code} (version {campaign.version}) is {campaign.status}: "
            f"it cannot be {action} (only when {' or '.join(sorted(allowed))})."
        )


def readiness(session: Session, campaign: Campaign) -> list[str]:
    """What keeps the campaign from being approved (empty when it is ready)."""
    problems = []
    if not service.waves_of(session, campaign.id):
        problems.append("it has no wave")
    cells = service.cells_of(session, campaign.id)
    if not [c for c in cells if not c.is_control]:
        problems.append("it has no cell that sends a message")
    for c in cells:
        if not c.is_control and c.channel in NEEDS_TEMPLATE and c.template_id is None:
            problems.append(f"cell {c.code} ({c.channel}) has no message template")
    return problems


def approve(session: Session, campaign_id: int, *, by: str) -> Campaign:
    """Approve a draft (see :func:`approve_checked`); the campaign."""
    return approve_checked(session, campaign_id, by=by)[0]


def approve_checked(session: Session, campaign_id: int, *, by: str) -> tuple[Campaign, list[Any]]:
    """Approve a draft after the pre-send analysis; the campaign and the analysis's warnings.
    Refused when it is incomplete, when the analysis finds errors (each named), or when ``by``
    wrote it and approval by another marketer is required."""
    from closedloop.campaigns.approval_checks import analyse_for_approval, errors_of, warnings_of

    campaign = service.get_campaign(session, campaign_id)
    require(campaign, "approved", {S.DRAFT.value})
    problems = readiness(session, campaign)
    if problems:
        raise Refused(f"Campaign {campaign.code} cannot be approved: {'; '.join(problems)}.")
    findings = analyse_for_approval(session, campaign)
    errors = errors_of(findings)
    if errors:
        said = "; ".join((f"cell {f.cell}: " if f.cell else "") + f.message for f in errors)
        raise Refused(f"Campaign {campaign.code} cannot be approved: {said}")
    if get_settings().campaign_approval_by_other and by == campaign.created_by:
        raise Refused(
            f"Campaign {campaign.code} must be approved by a marketer other than its author ({by})."
        )
    campaign.status = S.APPROVED.value
    campaign.approved_by, campaign.approved_at = by, utcnow()
    session.flush()
    return campaign, warnings_of(findings)


def _supersede(session: Session, campaign: Campaign) -> list[int]:
    """Cancel the previous versions' waves not yet started (this version replaces them)."""
    if campaign.previous_id is None:
        return []
    older = select(Campaign.id).where(
        Campaign.code == campaign.code, Campaign.version < campaign.version
    )
    waves = list(
        session.scalars(
            select(Wave).where(Wave.campaign_id.in_(older), Wave.status.in_(NOT_STARTED))
        )
    )
    for w in waves:
        w.status = S.CANCELLED.value
    return [w.id for w in waves]


def launch(
    session: Session, campaign_id: int, *, by: str | None, now: datetime | None = None
) -> LaunchReport:
    """Launch an approved campaign: start its due waves now, schedule the others."""
    now = now or utcnow()
    campaign = service.get_campaign(session, campaign_id)
    require(campaign, "launched", {S.APPROVED.value})
    report = LaunchReport(campaign.id, campaign.status)
    report.superseded = _supersede(session, campaign)
    for wave in service.waves_of(session, campaign.id):
        if wave.scheduled_at is None or as_utc(wave.scheduled_at) <= now:
            report.started.append(start_wave(session, wave, by=by, now=now))
        else:
            wave.status = S.SCHEDULED.value
            enqueue(session, START_KIND, {"wave_id": wave.id}, run_after=wave.scheduled_at,
                    created_by=by)  # fmt: skip
            report.scheduled.append(wave.id)
    campaign.status = S.RUNNING.value if report.started else S.SCHEDULED.value
    campaign.launched_at = now
    report.status = campaign.status
    session.flush()
    return report


def pause(session: Session, campaign_id: int) -> Campaign:
    """Hold a scheduled or running campaign: its senders stop after the batch in hand."""
    campaign = service.get_campaign(session, campaign_id)
    require(campaign, "paused", {S.SCHEDULED.value, S.RUNNING.value})
    campaign.status = S.PAUSED.value
    session.execute(
        update(Wave)
        .where(Wave.campaign_id == campaign.id, Wave.status == S.RUNNING.value)
        .values(status=S.PAUSED.value)
    )
    session.flush()
    return campaign


def resume(
    session: Session, campaign_id: int, *, by: str | None, now: datetime | None = None
) -> LaunchReport:
    """Go on with a paused campaign: queue the sending of its paused waves again and start
    the scheduled ones that came due meanwhile."""
    now = now or utcnow()
    campaign = service.get_campaign(session, campaign_id)
    require(campaign, "resumed", {S.PAUSED.value})
    report = LaunchReport(campaign.id, campaign.status)
    for wave in service.waves_of(session, campaign.id):
        if wave.status == S.PAUSED.value:
            wave.status = S.RUNNING.value
            job = queue_send(session, wave.id, created_by=by)
            report.started.append(WaveStart(wave.id, queued_count(session, wave.id), job.id))
        elif wave.status == S.SCHEDULED.value:
            if wave.scheduled_at is None or as_utc(wave.scheduled_at) <= now:
                report.started.append(start_wave(session, wave, by=by, now=now))
            else:
                report.scheduled.append(wave.id)
    waves = service.waves_of(session, campaign.id)
    started = any(w.status not in NOT_STARTED for w in waves)
    campaign.status = S.RUNNING.value if started else S.SCHEDULED.value
    report.status = campaign.status
    session.flush()
    return report


def cancel(session: Session, campaign_id: int) -> tuple[Campaign, int]:
    """Cancel the campaign: every wave not completed is cancelled and every message still
    queued is skipped (already sent ones stay in the contact history). Returns the campaign
    and how many messages were skipped."""
    campaign = service.get_campaign(session, campaign_id)
    require(campaign, "cancelled", OPEN)
    wave_ids = [w.id for w in service.waves_of(session, campaign.id)]
    skipped = 0
    if wave_ids:
        result = session.execute(
            update(Communication)
            .where(Communication.wave_id.in_(wave_ids), Communication.status == St.QUEUED.value)
            .values(status=St.SKIPPED.value, detail="the campaign was cancelled")
        )
        skipped = int(result.rowcount)  # type: ignore[attr-defined]
        session.execute(
            update(Wave)
            .where(Wave.id.in_(wave_ids), Wave.status != S.COMPLETED.value)
            .values(status=S.CANCELLED.value)
        )
    campaign.status = S.CANCELLED.value
    session.flush()
    return campaign, skipped


def settle(session: Session, campaign_id: int) -> Campaign:
    """Mark running waves whose ledger has nothing left to send as completed, and the
    campaign completed once every wave is completed or cancelled."""
    campaign = service.get_campaign(session, campaign_id)
    waves = service.waves_of(session, campaign.id)
    messages = service.wave_messages(session, [w.id for w in waves])
    pending = {St.QUEUED.value, St.SENDING.value}
    for w in waves:
        if w.status == S.RUNNING.value and not pending & set(messages[w.id]):
            w.status = S.COMPLETED.value
    done = {S.COMPLETED.value, S.CANCELLED.value}
    if campaign.status == S.RUNNING.value and waves and all(w.status in done for w in waves):
        campaign.status = S.COMPLETED.value
    session.flush()
    return campaign
