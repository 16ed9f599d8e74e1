"""The public answer page of an event invitation (``/e/r/<token>``), reached by the signed
link of the invitation email.

Opening the link answers nothing: the page shows the event and asks yes, no or maybe (the
link's ``?answer=`` preselects one), so a mail scanner that follows every link of a message
does not answer for the person. The token is the credential and replaces the session CSRF
token, as on the survey and preference pages. A forged link, an invitation whose person was
erased or deleted, and an event that is over each get a page that says so (never a 500).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from closedloop.access import PUBLIC
from closedloop.campaigns.tracking import checkin_url, read_rsvp
from closedloop.consent import TokenInvalid
from closedloop.deps import DbSession
from closedloop.errors import NotFound, Refused
from closedloop.events import rsvp
from closedloop.events.models import EventGuest
from closedloop.events.service import is_over, local
from closedloop.web.qr import qr_svg
from closedloop.web.routes import form_str
from closedloop.web.routes.signup import page

public = APIRouter(include_in_schema=False, dependencies=[PUBLIC])
CHOICES = ("yes", "no", "maybe")


def _refusal(request: Request, reason: str, status: int) -> Response:
    return page(request, "events/rsvp_error.html", {"reason": reason}, status=status)


def _open(db: DbSession, token: str) -> rsvp.Invite:
    return rsvp.invitation(db, read_rsvp(token))


def _context(db: DbSession, invite: rsvp.Invite, token: str, **extra: Any) -> dict[str, Any]:
    event = invite.event
    guest = db.query(EventGuest).filter_by(event_id=event.id, person_id=invite.person_id).first()
    booked = guest is not None and guest.answer == "yes"
    return {
        "event": event,
        "starts": local(event, event.starts_at),
        "ends": local(event, event.ends_at),
        "full": event.capacity is not None and event.seats_taken >= event.capacity,
        "current": guest.answer if guest else None,
        "token": token,
        "chosen": "",
        "missing": False,
        # A booked guest shows this at the door; staff who scan it check the guest in.
        "qr": qr_svg(checkin_url(invite.communication_id)) if booked else None,
        **extra,
    }


@public.get("/e/r/{token}", response_class=Response)
def rsvp_page(request: Request, db: DbSession, token: str, answer: str = "") -> Response:
    """The event of a signed invitation link and the question: will you come?"""
    try:
        invite = _open(db, token)
    except (TokenInvalid, NotFound):
        return _refusal(request, "invalid", 404)
    except Refused:
        return _refusal(request, "gone", 410)
    if is_over(invite.event):
        return _refusal(request, "over", 410)
    chosen = answer if answer in CHOICES else ""
    return page(request, "events/rsvp.html", _context(db, invite, token, chosen=chosen))


@public.post("/e/r/{token}", response_class=Response)
async def rsvp_answer(request: Request, db: DbSession, token: str) -> Response:
    """Record the answer: a yes to a full event goes on the waiting list; the same answer
    again changes nothing."""
    try:
        invite = _open(db, token)
    except (TokenInvalid, NotFound):
        return _refusal(request, "invalid", 404)
    except Refused:
        return _refusal(request, "gone", 410)
    if is_over(invite.event):
        return _refusal(request, "over", 410)
    form = await request.form()
    choice = form_str(form, "answer")
    if choice not in CHOICES:
        context = _context(db, invite, token, missing=True)
        return page(request, "events/rsvp.html", context, status=422)
    try:
        got = rsvp.answer(db, invite.communication_id, choice)
    except Refused:
        return _refusal(request, "over", 410)
    return page(request, "events/rsvp_done.html", _context(db, invite, token, answer=got.answer))
