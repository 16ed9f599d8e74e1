"""Answers to invitations and check-ins at the door, each stored as a response.

- :func:`answer`: yes, no or maybe through an invitation (its message id, from the signed
  RSVP link). A yes takes a seat by one conditional ``UPDATE events SET seats_taken =
  seats_taken + 1 WHERE seats_taken < capacity``: the database serialises two answers for
  the last seat (PostgreSQL's row lock, SQLite's single writer), so ``capacity`` is never
  exceeded; the second person is put on the waiting list. A yes that becomes no or maybe
  frees the seat for the first person waiting. The same answer again changes nothing and
  records nothing (a replayed link).
- :func:`check_in`: a guest arrives (from the door list or the QR code of their
  invitation); twice is once.

Each change is a response (kind ``rsvp``, or ``attendance`` for a check-in) against the
person, the invitation, its wave and cell (:func:`closedloop.responses.desk.record_rsvp`),
so it shows on the person card and counts as a response in the campaign's evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Communication
from closedloop.consent.models import Suppression
from closedloop.contacts.service import golden_record
from closedloop.db.base import utcnow
from closedloop.errors import NotFound, Refused, ValidationFailed
from closedloop.events.models import Event, EventGuest
from closedloop.events.service import event_of_campaign, is_over
from closedloop.responses.desk import RsvpAnswer, RsvpCreate, record_rsvp
from closedloop.vocab import SuppressionReason

#: What a guest may answer through the invitation.
ANSWERS = (RsvpAnswer.YES, RsvpAnswer.NO, RsvpAnswer.MAYBE)


@dataclass(frozen=True)
class Invite:
    """An invitation: the event, the message and the (golden) person it reached."""

    event: Event
    communication_id: int
    person_id: int


@dataclass(frozen=True)
class Answered:
    """What became of an answer: the guest's answer now (``waitlist`` for a yes to a full
    event) and whether anything changed."""

    guest: EventGuest
    answer: str
    changed: bool


def invitation(session: Session, communication_id: int) -> Invite:
    """The invitation of message ``communication_id``; NotFound when the message, its event
    or its person is gone, Refused when the person was erased."""
    comm = session.get(Communication, communication_id)
    event = event_of_campaign(session, comm.campaign_id) if comm is not None else None
    if comm is None or event is None:
        raise NotFound("This invitation does not exist (any more).")
    person = golden_record(session, comm.person_id)
    erased = session.scalar(
        select(Suppression.id).where(
            Suppression.person_id.in_({person.id, comm.person_id}),
            Suppression.reason == SuppressionReason.ERASED.value,
        )
    )
    if erased is not None:
        raise Refused("This invitation is no longer valid.")
    return Invite(event, comm.id, person.id)


def _guest(
    session: Session, event_id: int, person_id: int, communication_id: int | None
) -> EventGuest:
    """The person's guest row, created on first use (a concurrent creation is re-read)."""
    stmt = select(EventGuest).where(
        EventGuest.event_id == event_id, EventGuest.person_id == person_id
    )
    found = session.scalar(stmt.with_for_update())
    if found is None:
        try:
            with session.begin_nested():
                found = EventGuest(
                    event_id=event_id, person_id=person_id, communication_id=communication_id
                )
                session.add(found)
                session.flush()
        except IntegrityError:
            found = session.scalar(stmt.with_for_update())
            assert found is not None
    if found.communication_id is None and communication_id is not None:
        found.communication_id = communication_id
    return found


def _take_seat(session: Session, event_id: int) -> bool:
    result = session.execute(
        update(Event)
        .where(Event.id == event_id)
        .where(or_(Event.capacity.is_(None), Event.seats_taken < Event.capacity))
        .values(seats_taken=Event.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _free_seat(session: Session, event_id: int) -> None:
    session.execute(
        update(Event)
        .where(Event.id == event_id, Event.seats_taken > 0)
        .values(seats_taken=Event.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )


def _record(
    session: Session, event: Event, guest: EventGuest, answer: RsvpAnswer, by: str | None = None
) -> None:
    record_rsvp(
        session,
        RsvpCreate(
            person_id=guest.person_id,
            answer=answer,
            communication_id=guest.communication_id,
            campaign_id=event.campaign_id,
            event_id=event.id,
            by=by,
        ),
    )


def _promote(session: Session, event: Event) -> None:
    """Give a freed seat to the first person on the waiting list, if any."""
    first = session.scalar(
        select(EventGuest)
        .where(EventGuest.event_id == event.id, EventGuest.answer == RsvpAnswer.WAITLIST.value)
        .order_by(EventGuest.answered_at, EventGuest.id)
        .limit(1)
        .with_for_update()
    )
    if first is not None and _take_seat(session, event.id):
        first.answer, first.answered_at = RsvpAnswer.YES.value, utcnow()
        _record(session, event, first, RsvpAnswer.YES)


def answer(session: Session, communication_id: int, given: RsvpAnswer | str) -> Answered:
    """Record ``given`` (yes, no, maybe) for the invitation ``communication_id`` (see the
    module doc); Refused once the event is over."""
    choice = RsvpAnswer(given) if given in set(RsvpAnswer) else None
    if choice is None or choice not in ANSWERS:
        raise ValidationFailed(
            "An invitation is answered yes, no or maybe.",
            errors=[{"field": "answer", "message": f"{given!s} is not an answer"}],
        )
    invite = invitation(session, communication_id)
    event = invite.event
    if is_over(event):
        raise Refused(f"The event {event.name} is over: it no longer takes answers.")
    guest = _guest(session, event.id, invite.person_id, invite.communication_id)
    before = guest.answer
    if before == choice.value or (choice is RsvpAnswer.YES and before == RsvpAnswer.WAITLIST):
        return Answered(guest, before or choice.value, False)
    now = choice
    if choice is RsvpAnswer.YES and not _take_seat(session, event.id):
        now = RsvpAnswer.WAITLIST
    guest.answer, guest.answered_at = now.value, utcnow()
    _record(session, event, guest, now)
    if before == RsvpAnswer.YES.value:
        _free_seat(session, event.id)
        _promote(session, event)
    session.flush()
    session.refresh(event)
    return Answered(guest, now.value, True)


@dataclass(frozen=True)
class CheckedIn:
    """A check-in: the guest, and whether they were already checked in."""

    guest: EventGuest
    already: bool


def check_in(
    session: Session,
    event: Event,
    *,
    person_id: int | None = None,
    communication_id: int | None = None,
    by: str | None = None,
) -> CheckedIn:
    """Check a guest in, named by their invitation (the QR code) or by their person id
    (the door list). Checking in twice changes nothing and records one response."""
    if communication_id is not None:
        invite = invitation(session, communication_id)
        if invite.event.id != event.id:
            raise ValidationFailed(
                "This invitation is for another event.",
                errors=[
                    {"field": "communication_id", "message": f"not an invitation to {event.code}"}
                ],
            )
        pid, comm = invite.person_id, invite.communication_id
    elif person_id is not None:
        pid, comm = golden_record(session, person_id).id, None
        if comm is None and event.campaign_id is not None:
            comm = session.scalar(
                select(Communication.id)
                .where(
                    Communication.person_id == pid, Communication.campaign_id == event.campaign_id
                )
                .order_by(Communication.id.desc())
                .limit(1)
            )
    else:
        raise ValidationFailed(
            "Name the guest to check in.",
            errors=[{"field": "person_id", "message": "a person or an invitation is needed"}],
        )
    guest = _guest(session, event.id, pid, comm)
    if guest.checked_in_at is not None:
        return CheckedIn(guest, True)
    guest.checked_in_at, guest.checked_in_by = utcnow(), by
    _record(session, event, guest, RsvpAnswer.ATTENDED, by)
    session.flush()
    return CheckedIn(guest, False)
