"""Campaigns (M11): create and change a campaign with its waves and cells.

Reading them back (get, find, list, describe) is :mod:`closedloop.campaigns.reading`; its
functions are importable from here too.

What may change when is the state machine's business (:mod:`closedloop.campaigns.lifecycle`):
this module writes what it is told to. The caller owns the transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, Cell, MessageTemplate, Offer, Wave
from closedloop.campaigns.reading import (
    cells_of,
    describe,
    find_campaign,
    get_campaign,
    list_campaigns,
    wave_messages,
    waves_of,
)
from closedloop.campaigns.schemas import (
    CampaignCreate,
    CampaignFields,
    CampaignUpdate,
    CellCreate,
    WaveCreate,
)
from closedloop.campaigns.targeting import (
    TargetingOptions,
    clear_segment,
    set_targeting,
    set_tests,
)
from closedloop.db.base import utcnow
from closedloop.errors import Conflict, ValidationFailed
from closedloop.segments import Segment
from closedloop.users.models import User
from closedloop.vocab import CampaignStatus

__all__ = [
    "apply_update",
    "cells_of",
    "create_campaign",
    "describe",
    "find_campaign",
    "get_campaign",
    "latest_template",
    "list_campaigns",
    "replace_cells",
    "replace_waves",
    "wave_messages",
    "waves_of",
]

#: Fields of :class:`CampaignFields` resolved by name (offer code, owner username).
_NAMED = {"offer", "owner"}


def _offer_id(session: Session, code: str | None, field: str) -> int | None:
    if code is None:
        return None
    found = session.scalar(select(Offer.id).where(Offer.code == code))
    if found is None:
        raise ValidationFailed(
            f"No offer has the code {code!r}.",
            errors=[{"field": field, "message": f"no offer with code {code!r}"}],
        )
    return found


def _owner_id(session: Session, username: str | None) -> int | None:
    if username is None:
        return None
    found = session.scalar(select(User.id).where(User.username == username))
    if found is None:
        raise ValidationFailed(
            f"No user is called {username!r}.",
            errors=[{"field": "owner", "message": f"no user called {username!r}"}],
        )
    return found


def _check_segment(session: Session, segment_id: int | None, field: str) -> None:
    if segment_id is not None and session.get(Segment, segment_id) is None:
        raise ValidationFailed(
            f"Segment {segment_id} does not exist.",
            errors=[{"field": field, "message": f"no segment {segment_id}"}],
        )


def latest_template(session: Session, code: str, channel: str | None, field: str) -> int:
    """The id of the latest version of template ``code``; ValidationFailed naming ``field``
    when there is none or it is for another channel."""
    found = session.execute(
        select(MessageTemplate.id, MessageTemplate.channel)
        .where(MessageTemplate.code == code)
        .order_by(MessageTemplate.version.desc())
        .limit(1)
    ).first()
    if found is None:
        raise ValidationFailed(
            f"No message template has the code {code!r}.",
            errors=[{"field": field, "message": f"no template with code {code!r}"}],
        )
    if channel and found.channel != channel:
        raise ValidationFailed(
            f"Template {code!r} is for {found.channel}, not {channel}.",
            errors=[{"field": field, "message": f"template for {found.channel}, not {channel}"}],
        )
    return int(found.id)


def _set_fields(session: Session, campaign: Campaign, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name == "offer":
            campaign.offer_id = _offer_id(session, value, "offer")
        elif name == "owner":
            campaign.owner_id = _owner_id(session, value)
        elif name == "segment_id" and value is None:
            clear_segment(session, campaign.id)
        elif name == "segment_id":
            _check_segment(session, value, "segment_id")
            session.flush()
            set_targeting(session, campaign.id, TargetingOptions(segment_id=value))
        else:
            setattr(campaign, name, value.value if hasattr(value, "value") else value)
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        raise ValidationFailed(
            "The campaign ends before it starts.",
            errors=[{"field": "ends_on", "message": "before starts_on"}],
        )


def replace_waves(session: Session, campaign: Campaign, waves: list[WaveCreate]) -> None:
    """Make ``waves`` the campaign's waves (the old ones are deleted: a draft has sent none)."""
    session.execute(delete(Wave).where(Wave.campaign_id == campaign.id))
    for w in waves:
        session.add(
            Wave(campaign_id=campaign.id, status=CampaignStatus.DRAFT.value, **w.model_dump())
        )
    session.flush()


def replace_cells(session: Session, campaign: Campaign, cells: list[CellCreate]) -> None:
    """Make ``cells`` the campaign's marketing mix; every name is resolved first, so a bad
    one changes nothing."""
    rows = []
    for i, c in enumerate(cells):
        where = f"cells[{i}]"
        channel = c.channel.value if c.channel else None
        _check_segment(session, c.segment_id, f"{where}.segment_id")
        rows.append(
            Cell(
                campaign_id=campaign.id,
                code=c.code,
                name=c.name,
                is_control=c.is_control,
                channel=channel,
                offer_id=_offer_id(session, c.offer, f"{where}.offer"),
                price=c.price,
                template_id=latest_template(session, c.template, channel, f"{where}.template")
                if c.template
                else None,
                segment_id=c.segment_id,
                share=c.share,
                unit_cost=c.unit_cost,
            )
        )
    session.execute(delete(Cell).where(Cell.campaign_id == campaign.id))
    session.flush()
    session.add_all(rows)
    session.flush()


def create_campaign(
    session: Session, data: CampaignCreate, *, created_by: str | None = None
) -> Campaign:
    """Create a draft campaign with its waves and cells; Conflict when the code is taken."""
    if session.scalar(select(Campaign.id).where(Campaign.code == data.code)) is not None:
        raise Conflict(f"A campaign with the code {data.code!r} already exists.")
    campaign = Campaign(
        code=data.code,
        name=data.name,
        version=1,
        status=CampaignStatus.DRAFT.value,
        created_by=created_by,
        updated_at=utcnow(),
    )
    session.add(campaign)
    session.flush()
    _set_fields(session, campaign, data.model_dump(include=set(CampaignFields.model_fields)))
    session.flush()
    replace_waves(session, campaign, data.waves)
    replace_cells(session, campaign, data.cells)
    if data.tests is not None:
        set_tests(session, campaign.id, data.tests)
    return campaign


def apply_update(session: Session, campaign: Campaign, data: CampaignUpdate) -> None:
    """Write the fields given in ``data`` to ``campaign`` (no state check: see lifecycle); a
    ``segment_id`` given as null takes the target segment off."""
    values = data.model_dump(exclude_unset=True, exclude={"waves", "cells", "tests"})
    _set_fields(session, campaign, values)
    if data.waves is not None:
        replace_waves(session, campaign, data.waves)
    if data.cells is not None:
        replace_cells(session, campaign, data.cells)
    if data.tests is not None:
        set_tests(session, campaign.id, data.tests)
    campaign.updated_at = utcnow()
    session.flush()
