"""``/api/v1/events``: events a campaign invites to — create, list and read them, their
attendance list, answers given by other means, and check-ins at the door."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from closedloop.api.auth import requires
from closedloop.api.params import Id
from closedloop.api.problems import problem_responses
from closedloop.db.types import DbId
from closedloop.deps import DbSession
from closedloop.errors import ValidationFailed
from closedloop.events import rsvp
from closedloop.events.service import (
    STATES,
    EventCreate,
    attendance,
    create_event,
    event_doc,
    get_event,
    list_events,
)
from closedloop.users.models import User
from closedloop.users.permissions import Permission

router = APIRouter(prefix="/events", tags=["events"])
Writer = Annotated[User, Depends(requires(Permission.CAMPAIGNS_WRITE))]
Reader = Annotated[User, Depends(requires(Permission.PERSONS_READ))]
Door = Annotated[User, Depends(requires(Permission.PERSONS_WRITE))]
State = Literal["invited", "yes", "no", "maybe", "waitlist", "attended", "no_show"]
assert set(STATES) == set(State.__args__)  # type: ignore[attr-defined]


class EventPublic(BaseModel):
    """An event: when (UTC, with the zone it is shown in), where, seats, organiser, and the
    counts of its guests by state."""

    id: int
    code: str
    name: str
    description: str | None
    campaign_id: int | None
    starts_at: str
    ends_at: str
    timezone: str
    venue: str | None
    address: str | None
    online_url: str | None
    capacity: int | None
    seats_taken: int
    organiser_name: str | None
    organiser_email: str | None
    counts: dict[str, int] = Field(default_factory=dict)


class GuestPublic(BaseModel):
    """One guest: their answer, check-in and state."""

    person_id: int
    name: str
    email: str | None
    communication_id: int | None
    answer: str | None
    answered_at: str | None
    checked_in_at: str | None
    state: str


class AttendancePublic(BaseModel):
    """The attendance list with the counts of the whole event."""

    event_id: int
    capacity: int | None
    seats_taken: int
    counts: dict[str, int]
    rows: list[GuestPublic]


class AnswerCreate(BaseModel):
    """An answer to an invitation given by other means (a call, a letter)."""

    model_config = ConfigDict(extra="forbid")
    communication_id: DbId = Field(description="The invitation (its message id).")
    answer: Literal["yes", "no", "maybe"]


class AnswerPublic(BaseModel):
    """The guest's answer now (``waitlist`` for a yes to a full event)."""

    person_id: int
    answer: str
    changed: bool


class CheckInCreate(BaseModel):
    """The guest to check in: a person, or an invitation (its QR code)."""

    model_config = ConfigDict(extra="forbid")
    person_id: DbId | None = None
    communication_id: DbId | None = None


class CheckInPublic(BaseModel):
    """The guest checked in, and whether they already were."""

    person_id: int
    already: bool


def _out(db: DbSession, event: Any) -> EventPublic:
    return EventPublic(**event_doc(event), counts=attendance(db, event, limit=0).counts)


@router.post(
    "",
    response_model=EventPublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
def create(db: DbSession, user: Writer, body: EventCreate) -> EventPublic:
    """Create an event, attached to the campaign whose emails invite to it (naive times are
    in ``timezone``)."""
    return _out(db, create_event(db, body, created_by=user.username))


@router.get("", response_model=list[EventPublic], responses=problem_responses(401, 403))
def list_(db: DbSession, user: Reader) -> list[EventPublic]:
    """Every event, the latest first, with its counts."""
    return [_out(db, e) for e in list_events(db)]


@router.get(
    "/{event_id}", response_model=EventPublic, responses=problem_responses(401, 403, 404, 422)
)
def read(db: DbSession, user: Reader, event_id: Id) -> EventPublic:
    """An event and the counts of its guests (invited, yes, no, maybe, waitlist, attended,
    no_show)."""
    return _out(db, get_event(db, event_id))


@router.get(
    "/{event_id}/attendees",
    response_model=AttendancePublic,
    responses=problem_responses(401, 403, 404, 422),
)
def attendees(
    db: DbSession,
    user: Reader,
    event_id: Id,
    search: Annotated[str, Query(max_length=200, description="Part of a name or email.")] = "",
    state: Annotated[State | None, Query(description="Only the guests in this state.")] = None,
) -> AttendancePublic:
    """The attendance list: each guest with their answer, check-in and state."""
    doc = attendance(db, get_event(db, event_id), search=search).as_dict()
    if state:
        doc["rows"] = [r for r in doc["rows"] if r["state"] == state]
    return AttendancePublic.model_validate(doc)


@router.post(
    "/{event_id}/answers",
    response_model=AnswerPublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def answer(db: DbSession, user: Door, event_id: Id, body: AnswerCreate) -> AnswerPublic:
    """Record an invitation's answer given by other means, as the RSVP page does: a yes to
    a full event goes on the waiting list; the same answer again changes nothing."""
    event = get_event(db, event_id)
    if rsvp.invitation(db, body.communication_id).event.id != event.id:
        raise ValidationFailed(
            "This invitation is for another event.",
            errors=[{"field": "communication_id", "message": f"not an invitation to {event.code}"}],
        )
    got = rsvp.answer(db, body.communication_id, body.answer)
    return AnswerPublic(person_id=got.guest.person_id, answer=got.answer, changed=got.changed)


@router.post(
    "/{event_id}/checkins",
    response_model=CheckInPublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def checkin(db: DbSession, user: Door, event_id: Id, body: CheckInCreate) -> CheckInPublic:
    """Check a guest in (twice is once: ``already`` says so)."""
    got = rsvp.check_in(
        db,
        get_event(db, event_id),
        person_id=body.person_id,
        communication_id=body.communication_id,
        by=user.username,
    )
    return CheckInPublic(person_id=got.guest.person_id, already=got.already)
