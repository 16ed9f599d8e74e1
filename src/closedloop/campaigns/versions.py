"""Editing a campaign: a draft changes in place; an approved or scheduled campaign changes and
goes back to draft (the approval was of the old content); a running or paused campaign is
frozen, so the edit makes a new version (a draft, with the waves not yet started) — launching
that version cancels those waves of the old one (:mod:`closedloop.campaigns.lifecycle`).
The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from closedloop.campaigns import service
from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.lifecycle import NOT_STARTED, OPEN, require
from closedloop.campaigns.models import Campaign, Cell, Wave
from closedloop.campaigns.schemas import CampaignUpdate
from closedloop.db.base import utcnow
from closedloop.errors import Conflict
from closedloop.vocab import CampaignStatus as S


@dataclass
class EditResult:
    """The campaign an edit wrote to: the same one, or a new version of a frozen one."""

    campaign: Campaign
    new_version: bool = False
    approval_withdrawn: bool = False


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
    require(campaign, "edited", OPEN)
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
