"""The loop: an evaluation's groups (responders, non-responders, buyers, a cell) become a
snapshot segment for the next campaign, and the scoring and segmentation side can ask who
responded. Each use case takes a session; the caller commits."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import CampaignMember, Cell, Communication
from closedloop.errors import NotFound, ValidationFailed
from closedloop.evaluation import queries
from closedloop.evaluation.attribution import Rule, attribute
from closedloop.responses.models import Response
from closedloop.segments import Segment, freeze_members


class Source(StrEnum):
    """Which persons of an evaluated campaign a segment is made of."""

    RESPONDERS = "responders"  # treated members who responded or bought in the window
    NON_RESPONDERS = "non-responders"  # treated members contacted who did neither
    BUYERS = "buyers"  # members (control included) who bought in the window
    CELL = "cell"  # every member of one cell


def parse_source(value: str) -> Source:
    """The group named ``value``; ValidationFailed naming the choices otherwise."""
    try:
        return Source(value)
    except ValueError:
        names = ", ".join(s.value for s in Source)
        raise ValidationFailed(
            f"Unknown group {value!r}: use one of {names}.",
            errors=[{"field": "group", "message": f"one of {names}"}],
        ) from None


def buyer_ids(session: Session, campaign_id: int, *, rule: Rule = Rule.LAST_TOUCH) -> set[int]:
    """Members who bought within the campaign's response window (any cell)."""
    campaign = queries.campaign(session, campaign_id)
    if campaign is None:
        raise NotFound(f"Campaign {campaign_id} does not exist.")
    times = queries.wave_times(session, campaign_id)
    starts = [t.start for t in times.values() if t.start is not None]
    lasts = [t.last for t in times.values() if t.last is not None]
    if not starts or not lasts:
        return set()
    low, high = min(starts), max(lasts) + timedelta(days=campaign.response_window_days)
    bought, sent = queries.buyers(session, campaign_id, low, high)
    found = attribute(bought, sent, times, campaign.response_window_days, rule)
    return found.buyers


def responder_ids(session: Session, campaign_id: int) -> set[int]:
    """Treated members who responded (a click, reply, call, visit, purchase, survey answer or
    attendance by a person, not a machine) or bought in the response window."""
    m, cell = CampaignMember, Cell
    reacted = session.scalars(
        select(Response.person_id)
        .join(m, (m.person_id == Response.person_id) & (m.campaign_id == campaign_id))
        .join(cell, (cell.id == m.cell_id) & cell.is_control.is_(False))
        .where(
            Response.campaign_id == campaign_id,
            Response.kind.in_(queries.RESPONDING),
            Response.machine.is_(None),
        )
        .distinct()
    )
    treated = set(_treated(session, campaign_id))
    return {p for p in reacted if p is not None} | (buyer_ids(session, campaign_id) & treated)


def _treated(session: Session, campaign_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CampaignMember.person_id)
            .join(Cell, Cell.id == CampaignMember.cell_id)
            .where(CampaignMember.campaign_id == campaign_id, Cell.is_control.is_(False))
        )
    )


def non_responder_ids(session: Session, campaign_id: int) -> set[int]:
    """Treated members a message left for who neither responded nor bought in the window."""
    contacted = session.scalars(
        select(Communication.person_id)
        .join(
            CampaignMember,
            (CampaignMember.person_id == Communication.person_id)
            & (CampaignMember.campaign_id == campaign_id),
        )
        .join(Cell, (Cell.id == CampaignMember.cell_id) & Cell.is_control.is_(False))
        .where(
            Communication.campaign_id == campaign_id,
            Communication.status.in_(queries.CONTACTED),
        )
        .distinct()
    )
    return set(contacted) - responder_ids(session, campaign_id)


def _cell_ids(session: Session, campaign_id: int, cell: str | None) -> tuple[Cell, list[int]]:
    if not cell:
        raise ValidationFailed(
            "Name the cell to make a segment of.",
            errors=[{"field": "cell", "message": "a cell code or id of the campaign"}],
        )
    found = session.scalar(
        select(Cell).where(
            Cell.campaign_id == campaign_id,
            (Cell.code == cell) | (Cell.id == (int(cell) if cell.isdigit() else -1)),
        )
    )
    if found is None:
        raise ValidationFailed(
            f"Campaign {campaign_id} has no cell {cell!r}.",
            errors=[{"field": "cell", "message": f"no cell {cell!r} in this campaign"}],
        )
    ids = session.scalars(
        select(CampaignMember.person_id).where(CampaignMember.cell_id == found.id)
    )
    return found, list(ids)


def segment_from_evaluation(
    session: Session,
    campaign_id: int,
    source: Source,
    name: str,
    *,
    cell: str | None = None,
    created_by: str | None = None,
) -> Segment:
    """Freeze a group of campaign ``campaign_id`` — its responders, non-responders, buyers or
    the members of ``cell`` (code or id) — into a snapshot segment called ``name``; its origin
    names the campaign and the group. NotFound for an unknown campaign."""
    campaign = queries.campaign(session, campaign_id)
    if campaign is None:
        raise NotFound(f"Campaign {campaign_id} does not exist.")
    origin: dict[str, object] = {
        "source": "evaluation",
        "campaign_id": campaign_id,
        "campaign": campaign.code,
        "group": source.value,
    }
    if source is Source.RESPONDERS:
        ids: set[int] | list[int] = responder_ids(session, campaign_id)
    elif source is Source.NON_RESPONDERS:
        ids = non_responder_ids(session, campaign_id)
    elif source is Source.BUYERS:
        ids = buyer_ids(session, campaign_id)
        origin["rule"] = Rule.LAST_TOUCH.value
    else:
        found, ids = _cell_ids(session, campaign_id, cell)
        origin["cell"] = found.code
    description = f"{source.value} of campaign {campaign.code}" + (
        f" (cell {cell})" if cell and source is Source.CELL else ""
    )
    return freeze_members(
        session, name, sorted(ids), origin, description=description, created_by=created_by
    )
