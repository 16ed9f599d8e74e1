"""Events: create one for a campaign, find, list and describe them (the fields a template
sees), and read who is coming (:func:`attendance`).

A naive start or end is read in the event's time zone; everything is stored in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, Communication
from closedloop.contacts.models import Email, Person
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.events.models import Event, EventGuest
from closedloop.vocab import CommunicationStatus

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: Messages that reached (or may have reached) the person: they count as invited.
INVITED = (
    CommunicationStatus.SENT.value,
    CommunicationStatus.DELIVERED.value,
    CommunicationStatus.UNCONFIRMED.value,
)


class EventCreate(BaseModel):
    """An event to create: when (naive times are in ``timezone``), where, how many seats."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Text
    description: Annotated[str | None, Field(max_length=4000)] = None
    campaign_id: Annotated[int | None, Field(ge=1, le=2**63 - 1)] = None
    starts_at: datetime
    ends_at: datetime
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    venue: Annotated[str | None, Field(max_length=200)] = None
    address: Annotated[str | None, Field(max_length=500)] = None
    online_url: Annotated[str | None, Field(max_length=500, pattern=r"^https?://\S+$")] = None
    capacity: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    organiser_name: Annotated[str | None, Field(max_length=200)] = None
    organiser_email: EmailStr | None = None

    @model_validator(mode="after")
    def _times(self) -> EventCreate:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        self.starts_at = as_utc(_in_zone(self.starts_at, zone))
        self.ends_at = as_utc(_in_zone(self.ends_at, zone))
        if self.ends_at <= self.starts_at:
            raise ValueError("the event must end after it starts")
        return self


def _in_zone(at: datetime, zone: ZoneInfo) -> datetime:
    return at.replace(tzinfo=zone) if at.tzinfo is None else at


def create_event(session: Session, data: EventCreate, *, created_by: str | None = None) -> Event:
    """Create an event (a campaign invites to at most one); Conflict on a taken code or
    campaign."""
    if data.campaign_id is not None and session.get(Campaign, data.campaign_id) is None:
        raise ValidationFailed(
            "No such campaign.",
            errors=[{"field": "campaign_id", "message": f"{data.campaign_id} does not exist"}],
        )
    event = Event(**data.model_dump(), created_by=created_by)
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"An event with code {data.code!r} exists, or campaign {data.campaign_id} "
            "already invites to an event."
        ) from exc
    return event


def get_event(session: Session, ref: int | str) -> Event:
    """The event of an id or a code; NotFound otherwise."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        found = session.get(Event, int(ref))
    else:
        found = session.scalar(select(Event).where(Event.code == ref))
    if found is None:
        raise NotFound(f"Event {ref} does not exist.")
    return found


def event_of_campaign(session: Session, campaign_id: int | None) -> Event | None:
    """The event campaign ``campaign_id`` invites to, if any."""
    if campaign_id is None:
        return None
    return session.scalar(select(Event).where(Event.campaign_id == campaign_id))


def list_events(session: Session) -> list[Event]:
    """Every event, the next first (by start, then id)."""
    return list(session.scalars(select(Event).order_by(Event.starts_at.desc(), Event.id.desc())))


def local(event: Event, at: datetime) -> datetime:
    """``at`` in the event's time zone."""
    return as_utc(at).astimezone(ZoneInfo(event.timezone))


def template_fields(event: Event) -> dict[str, Any]:
    """The ``event`` a template sees (:data:`closedloop.campaigns.template_names.EVENT_FIELDS`)."""
    start, end = local(event, event.starts_at), local(event, event.ends_at)
    where = ", ".join(p for p in (event.venue, event.address) if p)
    return {
        "code": event.code,
        "name": event.name,
        "description": event.description,
        "starts": f"{start:%Y-%m-%d %H:%M}",
        "ends": f"{end:%Y-%m-%d %H:%M}",
        "date": f"{start:%Y-%m-%d}",
        "time": f"{start:%H:%M}",
        "timezone": event.timezone,
        "venue": event.venue,
        "address": where or None,
        "online_url": event.online_url,
        "organiser": event.organiser_name,
    }


def is_over(event: Event, now: datetime | None = None) -> bool:
    """Whether the event has ended."""
    return as_utc(event.ends_at) <= (now or utcnow())


def event_doc(event: Event) -> dict[str, Any]:
    """The event as a JSON-able document (CLI ``--json``, API)."""
    return {
        "id": event.id,
        "code": event.code,
        "name": event.name,
        "description": event.description,
        "campaign_id": event.campaign_id,
        "starts_at": as_utc(event.starts_at).isoformat(),
        "ends_at": as_utc(event.ends_at).isoformat(),
        "timezone": event.timezone,
        "venue": event.venue,
        "address": event.address,
        "online_url": event.online_url,
        "capacity": event.capacity,
        "seats_taken": event.seats_taken,
        "organiser_name": event.organiser_name,
        "organiser_email": event.organiser_email,
    }


@dataclass
class GuestRow:
    """One line of the attendance list."""

    person_id: int
    name: str
    email: str | None
    communication_id: int | None
    answer: str | None
    answered_at: datetime | None
    checked_in_at: datetime | None
    state: str


@dataclass
class Attendance:
    """Who was invited, who answered what, who came: counts and the list."""

    event_id: int
    capacity: int | None
    seats_taken: int
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[GuestRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        rows = [
            {
                **r.__dict__,
                "answered_at": r.answered_at.isoformat() if r.answered_at else None,
                "checked_in_at": r.checked_in_at.isoformat() if r.checked_in_at else None,
            }
            for r in self.rows
        ]
        return {
            "event_id": self.event_id,
            "capacity": self.capacity,
            "seats_taken": self.seats_taken,
            "counts": self.counts,
            "rows": rows,
        }


STATES = ("invited", "yes", "no", "maybe", "waitlist", "attended", "no_show")


def _state(answer: str | None, checked_in: datetime | None, over: bool) -> str:
    if checked_in is not None:
        return "attended"
    if answer == "yes" and over:
        return "no_show"
    return answer or "invited"


def attendance(
    session: Session, event: Event, *, search: str = "", limit: int = 5000
) -> Attendance:
    """The event's guests: everyone its campaign's invitation reached and everyone on its
    guest list, with their answer and check-in; ``search`` filters the list by name or email
    (the counts are the whole event's)."""
    invited: dict[int, int] = {}
    if event.campaign_id is not None:
        for pid, cid in session.execute(
            select(Communication.person_id, func.max(Communication.id))
            .where(
                Communication.campaign_id == event.campaign_id,
                Communication.status.in_(INVITED),
            )
            .group_by(Communication.person_id)
        ):
            invited[pid] = cid
    guests = {
        g.person_id: g
        for g in session.scalars(select(EventGuest).where(EventGuest.event_id == event.id))
    }
    over = is_over(event)
    counts = dict.fromkeys(STATES, 0)
    ids = set(invited) | set(guests)
    counts["invited"] = len(ids)
    for pid in ids:
        g = guests.get(pid)
        state = _state(g.answer if g else None, g.checked_in_at if g else None, over)
        if g is not None and g.answer:
            counts[g.answer] = counts.get(g.answer, 0) + 1
        if state in ("attended", "no_show"):
            counts[state] += 1
    people = (
        select(Person.id, Person.given_name, Person.family_name, Email.address)
        .outerjoin(Email, (Email.person_id == Person.id) & Email.is_primary.is_(True))
        .where(Person.id.in_(sorted(ids)))
    )
    if search.strip():
        like = f"%{search.strip().lower()}%"
        people = people.where(
            or_(
                func.lower(Person.given_name).like(like),
                func.lower(Person.family_name).like(like),
                func.lower(Email.address).like(like),
            )
        )
    rows: list[GuestRow] = []
    seen: set[int] = set()
    for pid, given, family, email in session.execute(
        people.order_by(Person.family_name, Person.given_name, Person.id).limit(limit)
    ):
        if pid in seen:  # two primary addresses: one line
            continue
        seen.add(pid)
        g = guests.get(pid)
        rows.append(
            GuestRow(
                pid,
                " ".join(p for p in (given, family) if p) or f"#{pid}",
                email,
                (g.communication_id if g and g.communication_id else None) or invited.get(pid),
                g.answer if g else None,
                g.answered_at if g else None,
                g.checked_in_at if g else None,
                _state(g.answer if g else None, g.checked_in_at if g else None, over),
            )
        )
    return Attendance(event.id, event.capacity, event.seats_taken, counts, rows)
