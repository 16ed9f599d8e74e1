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
- **edit**: a draft changes in place; an approved or scheduled campaign changes and goes back
  to draft (the approval was of the old content); a running or paused campaign is frozen: the
  edit makes a new version (a draft, with the waves not yet started), and launching that
  version cancels those waves of the old one.

The caller owns the transaction; every move raises :class:`Refused` naming the state.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from closedloop.campaigns import service
from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.models import Campaign, Cell, Communication, Wave
from closedloop.campaigns.schemas import CampaignUpdate
from closedloop.campaigns.send_job import queue_send
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Conflict, Refused
from closedloop.jobs.service import enqueue
from closedloop.settings import get_settings
from closedloop.vocab import CampaignStatus as S
from closedloop.vocab import Channel
from closedloop.vocab import CommunicationStatus as St

START_KIND = "campaigns.start_wave"
#: Channels whose cells need a message template (a phone call works from a script).
NEEDS_TEMPLATE = {Channel.EMAIL.value, Channel.SMS.value, Channel.LETTER.value}
OPEN = {S.DRAFT.value, S.APPROVED.value, S.SCHEDULED.value, S.RUNNING.value, S.PAUSED.value}
#: Wave states in which nothing has been extracted yet.
NOT_STARTED = {S.DRAFT.value, S.APPROVED.value, S.SCHEDULED.value}


@dataclass
class WaveStart:
    """A wave started by launch (or at its time): its messages queued and its send job."""

    wave_id: int
    queued: int
    job_id: int


@dataclass
class LaunchReport:
    """What launch did: the campaign's new state, the waves started and those scheduled."""

    campaign_id: int
    status: str
    started: list[WaveStart] = field(default_factory=list)
    scheduled: list[int] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)


@dataclass
class EditResult:
    """The campaign an edit wrote to: the same one, or a new version of a frozen one."""

    campaign: Campaign
    new_version: bool = False
    approval_withdrawn: bool = False


def _require(campaign: Campaign, action: str, allowed: set[str]) -> None:
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
    _require(campaign, "approved", {S.DRAFT.value})
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


def _extract(session: Session, wave_id: int, now: datetime) -> Any:
    """The wave's extraction (targeting, tests, coordination, consent: queues its ledger)."""
    try:
        extraction = importlib.import_module("closedloop.campaigns.extraction")
    except ModuleNotFoundError as exc:
        raise Refused("Extraction is not installed in this version of closedloop.") from exc
    return extraction.extract_wave(session, wave_id, now=now)


def _queued(session: Session, wave_id: int) -> int:
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
    return WaveStart(wave.id, _queued(session, wave.id), job.id)


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
    _require(campaign, "launched", {S.APPROVED.value})
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


def pause(session: Session, campaign_id: int) -> Campaign:
    """Hold a scheduled or running campaign: its senders stop after the batch in hand."""
    campaign = service.get_campaign(session, campaign_id)
    _require(campaign, "paused", {S.SCHEDULED.value, S.RUNNING.value})
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
    _require(campaign, "resumed", {S.PAUSED.value})
    report = LaunchReport(campaign.id, campaign.status)
    for wave in service.waves_of(session, campaign.id):
        if wave.status == S.PAUSED.value:
            wave.status = S.RUNNING.value
            job = queue_send(session, wave.id, created_by=by)
            report.started.append(WaveStart(wave.id, _queued(session, wave.id), job.id))
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
    _require(campaign, "cancelled", OPEN)
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


def _new_version(session: Session, old: Campaign, *, by: str | None) -> Campaign:
    newest = session.scalar(select(func.max(Campaign.version)).where(Campaign.code == old.code))
    if newest != old.version:
        raise Conflict(
            f"Campaign {old.code} already has a version {newest}: edit that one instead."
        )
    copy = Campaign(
        **{
            c: getattr(old, c)
            for c in (
                "code",
                "name",
                "objective",
                "priority",
                "budget",
                "currency",
                "purpose",
                "starts_on",
                "ends_on",
                "response_window_days",
                "owner_id",
                "offer_id",
                "cost_per_contact",
            )
        },
        version=old.version + 1,
        previous_id=old.id,
        status=S.DRAFT.value,
        created_by=by,
        updated_at=utcnow(),
    )
    session.add(copy)
    session.flush()
    targeting = session.get(CampaignTargeting, old.id)
    if targeting is not None:
        keep = {c.key: getattr(targeting, c.key) for c in CampaignTargeting.__mapper__.column_attrs}
        keep.update(campaign_id=copy.id, ab_winner_cell_id=None, ab_decided_at=None)
        session.add(CampaignTargeting(**keep))
    for cell in service.cells_of(session, old.id):
        fields = {c.key: getattr(cell, c.key) for c in Cell.__mapper__.column_attrs}
        session.add(Cell(**{**fields, "id": None, "campaign_id": copy.id}))
    for wave in service.waves_of(session, old.id):
        if wave.status in NOT_STARTED:
            session.add(
                Wave(
                    campaign_id=copy.id,
                    name=wave.name,
                    scheduled_at=wave.scheduled_at,
                    expected_volume=wave.expected_volume,
                    status=S.DRAFT.value,
                )
            )
    session.flush()
    return copy


def edit(session: Session, campaign_id: int, data: CampaignUpdate, *, by: str | None) -> EditResult:
    """Apply ``data``: in place for a draft (an approved or scheduled one goes back to draft);
    as a new version for a running or paused one; Refused once it has ended."""
    campaign = service.get_campaign(session, campaign_id)
    _require(campaign, "edited", OPEN)
    if campaign.status in (S.RUNNING, S.PAUSED):
        copy = _new_version(session, campaign, by=by)
        service.apply_update(session, copy, data)
        return EditResult(copy, new_version=True)
    withdrawn = campaign.status != S.DRAFT.value
    if withdrawn:
        campaign.status = S.DRAFT.value
        campaign.approved_by = campaign.approved_at = None
        session.execute(
            update(Wave)
            .where(Wave.campaign_id == campaign.id, Wave.status == S.SCHEDULED.value)
            .values(status=S.DRAFT.value)
        )
    service.apply_update(session, campaign, data)
    return EditResult(campaign, approval_withdrawn=withdrawn)


def start_wave_handler(ctx: Any) -> dict[str, Any]:
    """Job ``campaigns.start_wave``: start a scheduled wave at its time."""
    from closedloop.db.uow import unit_of_work

    with unit_of_work(ctx.factory) as session:
        return {"result": start_due_wave(session, int(ctx.payload["wave_id"]))}


HANDLERS: dict[str, Any] = {START_KIND: start_wave_handler}
