"""Campaigns (M11) read back: one by id or code, the list, its waves and cells, and the whole
campaign as its users see it (:func:`describe`: names instead of ids, waves with their ledger).

:mod:`closedloop.campaigns.service` re-exports these, where the rest of the code finds them.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.models import Campaign, Cell, Communication, MessageTemplate, Offer, Wave
from closedloop.campaigns.schemas import CampaignPublic, CellPublic, WavePublic
from closedloop.campaigns.targeting import tests_of
from closedloop.errors import NotFound
from closedloop.users.models import User
from closedloop.vocab import CampaignStatus


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    """The campaign (one version) ``campaign_id``; NotFound otherwise."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"Campaign {campaign_id} does not exist.")
    return campaign


def find_campaign(session: Session, ref: str) -> Campaign:
    """A campaign by id, or by code (its latest version); NotFound otherwise."""
    if ref.isdigit():
        return get_campaign(session, int(ref))
    found = session.scalar(
        select(Campaign).where(Campaign.code == ref).order_by(Campaign.version.desc()).limit(1)
    )
    if found is None:
        raise NotFound(f"No campaign has the code or id {ref!r}.")
    return found


def list_campaigns(
    session: Session, *, status: CampaignStatus | None = None, limit: int = 100, offset: int = 0
) -> list[Campaign]:
    """Campaigns (every version), the latest start first, optionally of one status."""
    query = select(Campaign)
    if status is not None:
        query = query.where(Campaign.status == status.value)
    query = query.order_by(Campaign.starts_on.desc().nulls_last(), Campaign.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)))


def wave_messages(session: Session, wave_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each wave's send-ledger rows by status."""
    out: dict[int, dict[str, int]] = {w: {} for w in wave_ids}
    if wave_ids:
        rows = session.execute(
            select(Communication.wave_id, Communication.status, func.count())
            .where(Communication.wave_id.in_(wave_ids))
            .group_by(Communication.wave_id, Communication.status)
        )
        for wave_id, status, n in rows:
            out[wave_id or 0][status] = n
    return out


def waves_of(session: Session, campaign_id: int) -> list[Wave]:
    """The campaign's waves by date (undated last), then id."""
    return list(
        session.scalars(
            select(Wave)
            .where(Wave.campaign_id == campaign_id)
            .order_by(Wave.scheduled_at.asc().nulls_last(), Wave.id)
        )
    )


def cells_of(session: Session, campaign_id: int) -> list[Cell]:
    """The campaign's cells by code."""
    return list(
        session.scalars(select(Cell).where(Cell.campaign_id == campaign_id).order_by(Cell.code))
    )


def describe(session: Session, campaign: Campaign) -> CampaignPublic:
    """The campaign as shown to its users: names instead of ids, waves with their ledger."""
    waves = waves_of(session, campaign.id)
    messages = wave_messages(session, [w.id for w in waves])
    cells = cells_of(session, campaign.id)
    offer_ids = {c.offer_id for c in cells} | {campaign.offer_id}
    offers: dict[int, str] = {
        row.id: row.code
        for row in session.execute(
            select(Offer.id, Offer.code).where(Offer.id.in_(offer_ids - {None}))
        )
    }
    template_ids = {c.template_id for c in cells if c.template_id}
    templates = {
        t.id: t
        for t in session.scalars(
            select(MessageTemplate).where(MessageTemplate.id.in_(template_ids))
        )
    }
    owner = session.get(User, campaign.owner_id) if campaign.owner_id else None
    targeting = session.get(CampaignTargeting, campaign.id)
    return CampaignPublic(
        id=campaign.id,
        code=campaign.code,
        version=campaign.version,
        previous_id=campaign.previous_id,
        name=campaign.name,
        objective=campaign.objective,
        status=campaign.status,
        offer=offers.get(campaign.offer_id) if campaign.offer_id else None,
        segment_id=targeting.segment_id if targeting else None,
        budget=campaign.budget,
        currency=campaign.currency,
        cost_per_contact=campaign.cost_per_contact,
        owner=owner.username if owner else None,
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        priority=campaign.priority,
        purpose=campaign.purpose,
        response_window_days=campaign.response_window_days,
        created_by=campaign.created_by,
        approved_by=campaign.approved_by,
        approved_at=campaign.approved_at,
        launched_at=campaign.launched_at,
        waves=[
            WavePublic.model_validate(w).model_copy(update={"messages": messages[w.id]})
            for w in waves
        ],
        cells=[
            CellPublic(
                id=c.id,
                code=c.code,
                name=c.name,
                is_control=c.is_control,
                channel=c.channel,
                offer=offers.get(c.offer_id) if c.offer_id else None,
                price=c.price,
                template=templates[c.template_id].code if c.template_id else None,
                template_version=templates[c.template_id].version if c.template_id else None,
                segment_id=c.segment_id,
                share=c.share,
                unit_cost=c.unit_cost,
            )
            for c in cells
        ],
        tests=tests_of(session, campaign.id, cells),
    )
