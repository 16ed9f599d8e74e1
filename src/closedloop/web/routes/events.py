"""Event pages for staff: ``/events`` (every event, and a form for a new one), an event's
page (counts against capacity, the attendance list), the door page (search a guest, check
them in) and ``/e/c/<token>``, the check-in address an invitation's QR code holds: opened by
a signed-in staff member, it checks its guest in (twice is once).

The services are :mod:`closedloop.events.service` and :mod:`closedloop.events.rsvp`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from closedloop.campaigns.models import Campaign
from closedloop.campaigns.tracking import read_checkin
from closedloop.consent import TokenInvalid
from closedloop.deps import DbSession
from closedloop.errors import Conflict, DomainError, NotFound
from closedloop.events import rsvp
from closedloop.events.service import (
    STATES,
    EventCreate,
    attendance,
    create_event,
    get_event,
    list_events,
)
from closedloop.i18n import N_
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission, allowed
from closedloop.web.rendering import flash, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import not_found, requires

router = page_router()
Reader = Annotated[User, requires(Permission.PERSONS_READ)]
Writer = Annotated[User, requires(Permission.CAMPAIGNS_WRITE)]
Door = Annotated[User, requires(Permission.PERSONS_WRITE)]
EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]
FIELDS = ("code", "name", "campaign_id", "starts_at", "ends_at", "timezone", "venue", "address",
          "online_url", "capacity", "organiser_name", "organiser_email", "description")  # fmt: skip


def _event(db: DbSession, event_id: int) -> Any:
    try:
        return get_event(db, event_id)
    except NotFound as exc:
        raise not_found() from exc


def _list_page(
    request: Request,
    db: DbSession,
    user: User,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    events = list_events(db)
    context = {
        "active": "events",
        "events": events,
        "may_create": allowed(user.role, Permission.CAMPAIGNS_WRITE),
        "campaigns": list(db.scalars(select(Campaign).order_by(Campaign.code, Campaign.version))),
        "values": values or {"timezone": "Europe/Paris"},
        "errors": errors or {},
    }
    return render(request, "events/list.html", context, status=status)


@router.get("/events", response_class=Response)
def events_page(request: Request, db: DbSession, user: Reader) -> Response:
    """Every event with its seats taken, and the form of a new one."""
    return _list_page(request, db, user)


@router.post("/events", response_class=Response)
async def create_event_page(request: Request, db: DbSession, user: Writer) -> Response:
    """Create the event of the form, then show its page; a refused field is named."""
    form = await request.form()
    values = {name: form_str(form, name).strip() for name in FIELDS}
    doc = {k: v for k, v in values.items() if v}
    errors: dict[str, str] = {}
    try:
        with db.begin_nested():  # a refusal keeps nothing
            event = create_event(db, EventCreate.model_validate(doc), created_by=user.username)
    except ValidationError as exc:
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "starts_at"
            errors.setdefault(field, e["msg"].removeprefix("Value error, "))
    except Conflict as exc:
        errors["code"] = exc.detail
    except DomainError as exc:
        errors["campaign_id"] = exc.detail
    else:
        users_service.audit(db, user, "create", "event", event.id, channel="web")
        flash(request, N_("The event is created."))
        return RedirectResponse(f"/events/{event.id}", status_code=303)
    return _list_page(request, db, user, values, errors, status=422)


@router.get("/events/{event_id}", response_class=Response)
def event_page(
    request: Request,
    db: DbSession,
    user: Reader,
    event_id: EventId,
    state: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """An event: when and where, its counts against capacity and its attendance list."""
    event = _event(db, event_id)
    seen = attendance(db, event)
    rows = [r for r in seen.rows if r.state == state] if state in STATES else seen.rows
    campaign = db.get(Campaign, event.campaign_id) if event.campaign_id else None
    context = {
        "active": "events",
        "event": event,
        "campaign": campaign,
        "seen": seen,
        "rows": rows,
        "state": state if state in STATES else "",
        "states": STATES,
        "may_door": allowed(user.role, Permission.PERSONS_WRITE),
    }
    return render(request, "events/show.html", context)


@router.get("/events/{event_id}/door", response_class=Response)
def door_page(
    request: Request,
    db: DbSession,
    user: Door,
    event_id: EventId,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The door: search a guest by name or email, check them in."""
    event = _event(db, event_id)
    seen = attendance(db, event, search=q, limit=200)
    context = {"active": "events", "event": event, "seen": seen, "q": q}
    return render(request, "events/door.html", context)


@router.post("/events/{event_id}/door", response_class=Response)
async def door_check_in(request: Request, db: DbSession, user: Door, event_id: EventId) -> Response:
    """Check in the guest of the button pressed (twice is once), back to the door page."""
    event = _event(db, event_id)
    form = await request.form()
    person = form_str(form, "person_id")
    if not person.isdigit() or not 0 < int(person) < 2**63:
        raise not_found()
    try:
        got = rsvp.check_in(db, event, person_id=int(person), by=user.username)
    except NotFound as exc:
        raise not_found() from exc
    flash(request, N_("Already checked in.") if got.already else N_("Checked in."),
          "info" if got.already else "success")  # fmt: skip
    q = form_str(form, "q")
    return RedirectResponse(f"/events/{event.id}/door" + (f"?q={q}" if q else ""), 303)


@router.get("/e/c/{token}", response_class=Response)
def qr_check_in(request: Request, db: DbSession, user: Door, token: str) -> Response:
    """The address of an invitation's QR code: checks its guest in and says who it is."""
    try:
        invite = rsvp.invitation(db, read_checkin(token))
    except (TokenInvalid, NotFound):
        return render(request, "events/checkin.html", {"invalid": True}, status=404)
    except DomainError:
        return render(request, "events/checkin.html", {"invalid": True}, status=410)
    got = rsvp.check_in(
        db, invite.event, communication_id=invite.communication_id, by=user.username
    )
    seen = attendance(db, invite.event)
    guest = next((r for r in seen.rows if r.person_id == got.guest.person_id), None)
    context = {"invalid": False, "event": invite.event, "got": got, "guest": guest, "seen": seen}
    return render(request, "events/checkin.html", context)
