"""An event, its inviting campaign and invitations sent through the real sender (real rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from tests.integration.campaigns.waves import email_template, wave

from closedloop.campaigns.models import Communication
from closedloop.events.models import Event
from closedloop.events.service import EventCreate, create_event

INVITATION = """<html><body><p>Dear {{ person.given_name | default("guest") }},</p>
<p>You are invited to {{ event.name }} on {{ event.starts }} at {{ event.venue }}.</p>
<p><a href="{{ rsvp_url('yes') }}">Yes</a> · <a href="{{ rsvp_url('no') }}">No</a> ·
<a href="{{ rsvp_url('maybe') }}">Maybe</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>"""


@dataclass
class Invited:
    event_id: int
    campaign_id: int
    wave_id: int
    person_ids: list[int]
    #: the invitations (communication ids), in person order
    messages: list[int]


def event_in(code: str = "GALA", **kw: object) -> EventCreate:
    start = datetime.now(UTC) + timedelta(days=10)
    values: dict[str, object] = {
        "code": code,
        "name": "Spring gala",
        "starts_at": start,
        "ends_at": start + timedelta(hours=3),
        "timezone": "Europe/Paris",
        "venue": "Hôtel de Ville",
        "address": "Place de l'Hôtel de Ville, 75004 Paris",
        "capacity": 2,
        "organiser_name": "Claire Martin",
        "organiser_email": "events@shop.example.com",
    }
    values.update(kw)
    return EventCreate.model_validate(values)


def invited(
    session: Session, n: int, *, sent: bool = True, code: str = "GALA", **kw: object
) -> Invited:
    """An event of capacity 2 (unless told) whose campaign invites ``n`` persons; their
    invitations marked sent unless ``sent`` is False (then the sender may send them)."""
    template = email_template(
        session, body=INVITATION, subject="Invitation: {{ event.name }}", code=f"inv-{code}"
    )
    setup = wave(session, n, template_id=template, code=f"C-{code}")
    event = create_event(session, event_in(code, campaign_id=setup.campaign_id, **kw))
    if sent:
        session.execute(
            update(Communication)
            .where(Communication.wave_id == setup.wave_id)
            .values(status="sent", sent_at=datetime.now(UTC))
        )
    messages = list(
        session.scalars(
            select(Communication.id)
            .where(Communication.wave_id == setup.wave_id)
            .order_by(Communication.person_id)
        )
    )
    session.flush()
    return Invited(event.id, setup.campaign_id, setup.wave_id, setup.person_ids, messages)


def end_event(session: Session, event_id: int) -> None:
    """Move the event into the past (it is over)."""
    past = datetime.now(UTC) - timedelta(hours=1)
    session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(starts_at=past - timedelta(hours=2), ends_at=past)
    )
