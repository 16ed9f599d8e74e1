"""Plugin hooks of the events domain: a campaign's emails learn the event it invites to
(``message_invitation``: the template's ``event`` and each invitation's ``.ics``); a merge
moves the source's places on guest lists to the golden record, an unmerge gives them back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from closedloop.channels import Attachment
from closedloop.events.ics import invitation_attachment, invitation_ics
from closedloop.events.models import Event, EventGuest
from closedloop.events.service import event_of_campaign, template_fields
from closedloop.hookspecs import hookimpl
from closedloop.settings import get_settings


@dataclass
class EventInvitation:
    """The event as the sender sees it (a copy: the sender renders on other sessions)."""

    event: Event
    fields: dict[str, Any]
    host: str

    def attachment(
        self, communication_id: int, person_id: int, recipient: str, name: str | None
    ) -> Attachment:
        """The ``.ics`` of one invitation."""
        text = invitation_ics(
            self.event,
            person_id=person_id,
            communication_id=communication_id,
            recipient=recipient,
            name=name,
            host=self.host,
        )
        return invitation_attachment(self.event, text)


def _copy(event: Event) -> Event:
    """A detached copy that stays readable once its session is closed."""
    return Event(**{c.key: getattr(event, c.key) for c in Event.__table__.columns})


@hookimpl
def message_invitation(session: Session, campaign_id: int) -> EventInvitation | None:
    """The event ``campaign_id`` invites to, for its emails."""
    event = event_of_campaign(session, campaign_id)
    if event is None:
        return None
    host = get_settings().public_base_url.split("//", 1)[-1].split("/", 1)[0].split(":")[0]
    return EventInvitation(_copy(event), template_fields(event), host or "closedloop")


@hookimpl
def person_merged(
    session: Session, golden_id: int, source_id: int, event: Any
) -> dict[str, Any] | None:
    """The source's guest rows become the golden record's, for the events where the golden
    record is not a guest already (there, both rows stay as they are: each was answered)."""
    taken = select(EventGuest.event_id).where(EventGuest.person_id == golden_id)
    rows = list(
        session.scalars(
            select(EventGuest.id).where(
                EventGuest.person_id == source_id, EventGuest.event_id.not_in(taken)
            )
        )
    )
    if not rows:
        return None
    session.execute(update(EventGuest).where(EventGuest.id.in_(rows)).values(person_id=golden_id))
    return {"events": {"guests": rows}}


@hookimpl
def person_unmerged(session: Session, golden_id: int, source_id: int, event: Any) -> None:
    """Give the source back the guest rows the merge moved."""
    moved = (event.moved or {}).get("events")
    if moved and moved["guests"]:
        session.execute(
            update(EventGuest).where(EventGuest.id.in_(moved["guests"])).values(person_id=source_id)
        )
