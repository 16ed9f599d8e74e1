"""Reactions recorded by people: call outcomes from the agents' desk, event invitations'
answers (RSVP) and attendance.

Each is a response of the person, attributed to the message it answers (a call-list row, an
invitation) or, when only the campaign is named, to the person's message of that campaign.
A call that ends with "do not call again" withdraws the person's phone consent at once.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, Communication
from closedloop.consent.preferences import withdraw_all
from closedloop.contacts.service import golden_record
from closedloop.db.types import DbId, UtcDatetime
from closedloop.errors import NotFound, ValidationFailed
from closedloop.responses.capture import Reaction, now, record
from closedloop.responses.models import Response
from closedloop.vocab import Channel, ConsentMethod, ResponseKind


class CallOutcome(StrEnum):
    """How a call ended."""

    REACHED = "reached"
    INTERESTED = "interested"
    APPOINTMENT = "appointment"
    SALE = "sale"
    NOT_INTERESTED = "not_interested"
    #: the person would not talk (not a request to stop calling: see ``do_not_call``)
    REFUSED = "refused"
    CALL_BACK = "call_back"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"
    DO_NOT_CALL = "do_not_call"


class RsvpAnswer(StrEnum):
    """An invitation's answer, or the person's attendance on the day."""

    YES = "yes"
    NO = "no"
    MAYBE = "maybe"
    #: said yes to a full event: on its waiting list
    WAITLIST = "waitlist"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


class CallCreate(BaseModel):
    """A call's outcome, as the agent records it."""

    person_id: DbId
    outcome: CallOutcome
    communication_id: DbId | None = None
    campaign_id: DbId | None = None
    note: str | None = Field(default=None, max_length=2000)
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    occurred_at: UtcDatetime | None = None


class RsvpCreate(BaseModel):
    """An answer to an event invitation, or attendance."""

    person_id: DbId
    answer: RsvpAnswer
    communication_id: DbId | None = None
    campaign_id: DbId | None = None
    guests: int = Field(default=0, ge=0, le=100)
    occurred_at: UtcDatetime | None = None
    #: the event it answers (set by :mod:`closedloop.events`), kept in the response's detail
    event_id: DbId | None = None
    #: who recorded it (a check-in's staff member)
    by: str | None = Field(default=None, max_length=64)


def _message(
    session: Session, person_id: int, communication_id: int | None, campaign_id: int | None
) -> int | None:
    if communication_id is not None:
        owner = session.scalar(
            select(Communication.person_id).where(Communication.id == communication_id)
        )
        if owner is None:
            raise ValidationFailed(
                "No such message.",
                errors=[
                    {"field": "communication_id", "message": f"{communication_id} does not exist"}
                ],
            )
        if owner != person_id:
            raise ValidationFailed(
                "The message was not sent to this person.",
                errors=[
                    {
                        "field": "communication_id",
                        "message": f"message {communication_id} went to person {owner}",
                    }
                ],
            )
        return communication_id
    if campaign_id is None:
        return None
    if session.get(Campaign, campaign_id) is None:
        raise ValidationFailed(
            "No such campaign.",
            errors=[{"field": "campaign_id", "message": f"{campaign_id} does not exist"}],
        )
    return session.scalar(
        select(Communication.id)
        .where(Communication.person_id == person_id, Communication.campaign_id == campaign_id)
        .order_by(Communication.id.desc())
        .limit(1)
    )


def _person(session: Session, person_id: int) -> int:
    try:
        return golden_record(session, person_id).id
    except NotFound as exc:
        raise ValidationFailed(
            "No such person.",
            errors=[{"field": "person_id", "message": f"{person_id} does not exist"}],
        ) from exc


def record_call(session: Session, data: CallCreate, *, agent: str | None = None) -> Response:
    """Record a call outcome (``do_not_call`` also withdraws phone consent)."""
    pid = _person(session, data.person_id)
    comm = _message(session, pid, data.communication_id, data.campaign_id)
    reaction = Reaction(
        kind=ResponseKind.CALL.value,
        occurred_at=data.occurred_at or now(),
        communication_id=comm,
        person_id=pid,
        campaign_id=data.campaign_id,
        detail={"outcome": data.outcome.value, "note": data.note, "agent": agent},
        source_system="agent_desk",
    )
    (rid,) = record(session, [reaction])
    response = session.get(Response, rid)
    assert response is not None
    if data.amount is not None:
        response.amount = data.amount
    if data.outcome is CallOutcome.DO_NOT_CALL:
        withdraw_all(
            session,
            pid,
            method=ConsentMethod.AGENT,
            action=f"asked not to be called again (agent {agent or 'unknown'})",
            channel=Channel.PHONE,
        )
    session.flush()
    return response


def record_rsvp(session: Session, data: RsvpCreate) -> Response:
    """Record an invitation's answer (kind ``rsvp``) or attendance (``attendance``)."""
    pid = _person(session, data.person_id)
    comm = _message(session, pid, data.communication_id, data.campaign_id)
    attended = data.answer in (RsvpAnswer.ATTENDED, RsvpAnswer.NO_SHOW)
    kind = ResponseKind.ATTENDANCE if attended else ResponseKind.RSVP
    reaction = Reaction(
        kind=kind.value,
        occurred_at=data.occurred_at or now(),
        communication_id=comm,
        person_id=pid,
        campaign_id=data.campaign_id,
        detail={
            "answer": data.answer.value,
            "guests": data.guests,
            **({"event_id": data.event_id} if data.event_id else {}),
            **({"by": data.by} if data.by else {}),
        },
        source_system="events",
    )
    (rid,) = record(session, [reaction])
    response = session.get(Response, rid)
    assert response is not None
    return response
