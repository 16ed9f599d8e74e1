"""``/api/v1/campaigns``: campaigns with their waves and cells, their states (approve, launch,
pause, resume, cancel), their sending and progress, and the shared calendar.

Launching, sending, pausing, resuming and cancelling are mass operations: they need
``campaigns:send``; approving needs ``campaigns:approve`` (and, when the four-eyes setting is
on, another user than the author).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from closedloop.api.auth import requires
from closedloop.api.params import Offset
from closedloop.api.problems import problem_responses
from closedloop.campaigns import calendar as cal
from closedloop.campaigns import lifecycle, service, versions
from closedloop.campaigns.calendar_conflicts import conflicts_of
from closedloop.campaigns.schemas import CampaignCreate, CampaignPublic, CampaignUpdate
from closedloop.campaigns.send_job import queue_send
from closedloop.db.types import DbId
from closedloop.deps import DbSession
from closedloop.errors import Refused, ValidationFailed
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.users.service import audit
from closedloop.vocab import CampaignStatus

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
Reader = Annotated[User, Depends(requires(Permission.CAMPAIGNS_READ))]
Writer = Annotated[User, Depends(requires(Permission.CAMPAIGNS_WRITE))]
Approver = Annotated[User, Depends(requires(Permission.CAMPAIGNS_APPROVE))]
Sender = Annotated[User, Depends(requires(Permission.CAMPAIGNS_SEND))]
CampaignId = Annotated[DbId, Path(description="The campaign's id (one version).")]


class CampaignDetail(CampaignPublic):
    """A campaign with the calendar conflicts its waves are part of."""

    conflicts: list[str] = Field(description="Pressure, gap and capacity conflicts.")


class EditPublic(CampaignPublic):
    """The campaign an edit wrote to: the same one or a new version of a running one."""

    new_version: bool
    approval_withdrawn: bool


class WaveStartPublic(BaseModel):
    """A wave started: its messages queued and the send job."""

    wave_id: int
    queued: int
    job_id: int


class LaunchPublic(BaseModel):
    """What launch or resume did."""

    campaign_id: int
    status: str
    started: list[WaveStartPublic]
    scheduled: list[int]
    superseded: list[int]


class CancelPublic(BaseModel):
    """A cancelled campaign and how many queued messages were skipped."""

    campaign_id: int
    status: str
    skipped: int


class WaveProgress(BaseModel):
    """A wave's progress: its messages by status and the share settled."""

    id: int
    name: str
    status: str
    messages: dict[str, int]
    total: int
    done: float | None


class StatusPublic(BaseModel):
    """A campaign's progress."""

    id: int
    code: str
    version: int
    status: str
    waves: list[WaveProgress]


class SendPublic(BaseModel):
    """The send jobs queued, one per running wave."""

    campaign_id: int
    jobs: dict[int, int] = Field(description="Wave id → job id.")


def _launch(report: lifecycle.LaunchReport) -> LaunchPublic:
    return LaunchPublic(
        campaign_id=report.campaign_id,
        status=report.status,
        started=[WaveStartPublic(**vars(s)) for s in report.started],
        scheduled=report.scheduled,
        superseded=report.superseded,
    )


def progress(session: Session, campaign_id: int) -> StatusPublic:
    """The campaign's progress (settling waves whose messages are all done)."""
    campaign = lifecycle.settle(session, campaign_id)
    shown = service.describe(session, campaign)
    waves = []
    for w in shown.waves:
        total = sum(w.messages.values())
        pending = w.messages.get("queued", 0) + w.messages.get("sending", 0)
        waves.append(
            WaveProgress(
                id=w.id,
                name=w.name,
                status=w.status,
                messages=w.messages,
                total=total,
                done=(total - pending) / total if total else None,
            )
        )
    return StatusPublic(
        id=shown.id, code=shown.code, version=shown.version, status=shown.status, waves=waves
    )


@router.get("/calendar", responses=problem_responses(401, 403, 422))
def get_calendar(
    session: DbSession,
    user: Reader,
    start: Annotated[date, Query(description="First day (e.g. a month's 1st or a Monday).")],
    days: Annotated[
        int, Query(ge=1, le=62, description="How many days (31 a month, 7 a week).")
    ] = 31,
) -> dict[str, Any]:
    """The shared calendar: each wave on its day with its volume per channel, the contact
    pressure per day and the conflicts with the pressure rules and channel capacities."""
    return cal.calendar_doc(cal.calendar(session, start, start + timedelta(days=days)))


@router.get("", response_model=list[CampaignPublic], responses=problem_responses(401, 403))
def list_campaigns(
    session: DbSession,
    user: Reader,
    offset: Offset = 0,
    state: Annotated[CampaignStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CampaignPublic]:
    """Campaigns (every version), the latest start first."""
    rows = service.list_campaigns(session, status=state, limit=limit, offset=offset)
    return [service.describe(session, c) for c in rows]


@router.post(
    "",
    response_model=CampaignPublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
def create_campaign(session: DbSession, user: Writer, data: CampaignCreate) -> CampaignPublic:
    """Create a draft campaign with its waves and cells (offers and templates by code)."""
    campaign = service.create_campaign(session, data, created_by=user.username)
    audit(session, user, "create", "campaign", campaign.id, channel="api")
    return service.describe(session, campaign)


@router.get(
    "/{campaign_id}", response_model=CampaignDetail, responses=problem_responses(401, 403, 404)
)
def get_campaign(session: DbSession, user: Reader, campaign_id: CampaignId) -> CampaignDetail:
    """One campaign (one version) with its waves, cells and calendar conflicts."""
    shown = service.describe(session, service.get_campaign(session, campaign_id))
    conflicts = [c.message for c in conflicts_of(session, campaign_id)]
    return CampaignDetail(**shown.model_dump(), conflicts=conflicts)


@router.patch(
    "/{campaign_id}",
    response_model=EditPublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def edit_campaign(
    session: DbSession, user: Writer, campaign_id: CampaignId, data: CampaignUpdate
) -> EditPublic:
    """Change a campaign: a draft in place, an approved or scheduled one back to draft, a
    running or paused one through a new version (its content is frozen)."""
    result = versions.edit(session, campaign_id, data, by=user.username)
    audit(session, user, "update", "campaign", result.campaign.id, channel="api")
    shown = service.describe(session, result.campaign)
    return EditPublic(
        **shown.model_dump(),
        new_version=result.new_version,
        approval_withdrawn=result.approval_withdrawn,
    )


@router.post(
    "/{campaign_id}/approve",
    response_model=CampaignPublic,
    responses=problem_responses(401, 403, 404, 409),
)
def approve_campaign(session: DbSession, user: Approver, campaign_id: CampaignId) -> CampaignPublic:
    """Approve a draft after the pre-send analysis (409 when incomplete, when the analysis finds
    errors — each named — or when its author approves it while approval by another marketer is
    required); the analysis's warnings are in ``warnings``."""
    campaign, warnings = lifecycle.approve_checked(session, campaign_id, by=user.username)
    audit(session, user, "approve", "campaign", campaign_id, channel="api")
    shown = service.describe(session, campaign)
    return shown.model_copy(update={"warnings": [_said(w) for w in warnings]})


def _said(finding: Any) -> str:
    return (f"cell {finding.cell}: " if finding.cell else "") + str(finding.message)


@router.post(
    "/{campaign_id}/launch",
    response_model=LaunchPublic,
    responses=problem_responses(401, 403, 404, 409),
)
def launch_campaign(session: DbSession, user: Sender, campaign_id: CampaignId) -> LaunchPublic:
    """Launch an approved campaign: due waves are extracted and their send jobs queued;
    later waves are scheduled."""
    report = lifecycle.launch(session, campaign_id, by=user.username)
    audit(session, user, "launch", "campaign", campaign_id, channel="api")
    return _launch(report)


@router.post(
    "/{campaign_id}/pause",
    response_model=StatusPublic,
    responses=problem_responses(401, 403, 404, 409),
)
def pause_campaign(session: DbSession, user: Sender, campaign_id: CampaignId) -> StatusPublic:
    """Pause a scheduled or running campaign (its senders stop after the batch in hand)."""
    lifecycle.pause(session, campaign_id)
    audit(session, user, "pause", "campaign", campaign_id, channel="api")
    return progress(session, campaign_id)


@router.post(
    "/{campaign_id}/resume",
    response_model=LaunchPublic,
    responses=problem_responses(401, 403, 404, 409),
)
def resume_campaign(session: DbSession, user: Sender, campaign_id: CampaignId) -> LaunchPublic:
    """Resume a paused campaign: its waves' sending is queued again."""
    report = lifecycle.resume(session, campaign_id, by=user.username)
    audit(session, user, "resume", "campaign", campaign_id, channel="api")
    return _launch(report)


@router.post(
    "/{campaign_id}/cancel",
    response_model=CancelPublic,
    responses=problem_responses(401, 403, 404, 409),
)
def cancel_campaign(session: DbSession, user: Sender, campaign_id: CampaignId) -> CancelPublic:
    """Cancel a campaign: its queued messages are skipped (sent ones stay in the history)."""
    campaign, skipped = lifecycle.cancel(session, campaign_id)
    audit(session, user, "cancel", "campaign", campaign_id, channel="api")
    return CancelPublic(campaign_id=campaign.id, status=campaign.status, skipped=skipped)


@router.post(
    "/{campaign_id}/send",
    response_model=SendPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 409),
)
def send_campaign(session: DbSession, user: Sender, campaign_id: CampaignId) -> SendPublic:
    """Queue the sending of every running wave (a ``campaigns.send`` job each; a wave already
    being sent is not sent twice: one sender works on a wave at a time)."""
    campaign = service.get_campaign(session, campaign_id)
    if campaign.status != CampaignStatus.RUNNING.value:
        raise Refused(f"Campaign {campaign.code} is {campaign.status}, not running.")
    jobs = {
        w.id: queue_send(session, w.id, created_by=user.username).id
        for w in service.waves_of(session, campaign_id)
        if w.status == CampaignStatus.RUNNING.value
    }
    if not jobs:
        raise ValidationFailed(f"Campaign {campaign.code} has no running wave to send.")
    audit(session, user, "send", "campaign", campaign_id, channel="api")
    return SendPublic(campaign_id=campaign_id, jobs=jobs)


@router.get(
    "/{campaign_id}/status", response_model=StatusPublic, responses=problem_responses(401, 403, 404)
)
def campaign_status(session: DbSession, user: Reader, campaign_id: CampaignId) -> StatusPublic:
    """A campaign's progress: each wave's messages by status and the share settled."""
    service.get_campaign(session, campaign_id)
    return progress(session, campaign_id)
