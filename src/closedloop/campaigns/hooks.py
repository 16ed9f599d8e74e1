"""Hook implementations of the campaigns domain for merges.

A person who is in a *running* campaign is not merged (nor merged into): the merge would
change the audience and the measurement (a control-group member could receive the test
cell's messages, a purchase could be credited to the wrong cell) while the campaign runs.
The pair waits in the review queue; merge it once the campaign is finished. Otherwise the
source's contact history moves to the golden record, and its memberships too, keeping one
membership per campaign (the golden record's own when both were members).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, CampaignMember, Communication
from closedloop.db.base import as_utc
from closedloop.hookspecs import hookimpl
from closedloop.vocab import CampaignStatus


@hookimpl
def person_merge_blockers(session: Session, golden_id: int, source_id: int) -> str | None:
    """Refuse while either person is a member of a running (or paused) campaign."""
    rows = session.execute(
        select(CampaignMember.person_id, Campaign.code, Campaign.name)
        .join(Campaign, CampaignMember.campaign_id == Campaign.id)
        .where(
            CampaignMember.person_id.in_((golden_id, source_id)),
            Campaign.status.in_((CampaignStatus.RUNNING.value, CampaignStatus.PAUSED.value)),
        )
        .order_by(Campaign.code)
    ).all()
    if not rows:
        return None
    names = ", ".join(
        sorted(
            {f"person {pid} is in the running campaign {code} ({name})" for pid, code, name in rows}
        )
    )
    return (
        f"{names}; merging now would change its audience and its measurement. Merge once the "
        "campaign has completed"
    )


def _member_doc(m: CampaignMember) -> dict[str, Any]:
    return {
        "id": m.id,
        "campaign_id": m.campaign_id,
        "cell_id": m.cell_id,
        "person_id": m.person_id,
        "assigned_at": as_utc(m.assigned_at).isoformat(),
    }


@hookimpl
def person_merged(
    session: Session, golden_id: int, source_id: int, event: Any
) -> dict[str, Any] | None:
    """Move the source's communications and campaign memberships to the golden record."""
    comms = list(
        session.scalars(select(Communication.id).where(Communication.person_id == source_id))
    )
    members = list(
        session.scalars(select(CampaignMember).where(CampaignMember.person_id == source_id))
    )
    if not (comms or members):
        return None
    golden_campaigns = set(
        session.scalars(
            select(CampaignMember.campaign_id).where(CampaignMember.person_id == golden_id)
        )
    )
    moved_members = [m.id for m in members if m.campaign_id not in golden_campaigns]
    removed = [_member_doc(m) for m in members if m.campaign_id in golden_campaigns]
    if comms:
        session.execute(
            update(Communication).where(Communication.id.in_(comms)).values(person_id=golden_id)
        )
    if removed:
        session.execute(
            delete(CampaignMember).where(CampaignMember.id.in_([d["id"] for d in removed]))
        )
    if moved_members:
        session.execute(
            update(CampaignMember)
            .where(CampaignMember.id.in_(moved_members))
            .values(person_id=golden_id)
        )
    session.expire_all()
    return {
        "campaigns": {
            "communications": comms,
            "members_moved": moved_members,
            "members_removed": removed,
        }
    }


@hookimpl
def person_unmerged(session: Session, golden_id: int, source_id: int, event: Any) -> None:
    """Give the source back its communications and memberships, as they were."""
    moved = (event.moved or {}).get("campaigns")
    if not moved:
        return
    if moved["communications"]:
        session.execute(
            update(Communication)
            .where(Communication.id.in_(moved["communications"]))
            .values(person_id=source_id)
        )
    if moved["members_moved"]:
        session.execute(
            update(CampaignMember)
            .where(CampaignMember.id.in_(moved["members_moved"]))
            .values(person_id=source_id)
        )
    if moved["members_removed"]:
        session.execute(
            insert(CampaignMember),
            [
                {**d, "assigned_at": datetime.fromisoformat(d["assigned_at"])}
                for d in moved["members_removed"]
            ],
        )


@hookimpl
def job_handlers() -> dict[str, Any]:
    """``campaigns.send``: a wave's sender (:mod:`closedloop.campaigns.send_job`);
    ``campaigns.ab_winner``: an A/B test's decision (:mod:`closedloop.campaigns.ab_test`);
    ``campaigns.start_wave``: a scheduled wave started at its time
    (:mod:`closedloop.campaigns.lifecycle`)."""
    from closedloop.campaigns.ab_test import HANDLERS as AB_HANDLERS
    from closedloop.campaigns.send_job import HANDLERS
    from closedloop.campaigns.wave_start import HANDLERS as START

    return {**HANDLERS, **AB_HANDLERS, **START}
