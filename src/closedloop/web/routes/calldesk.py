"""The agents' call desk: ``/desk`` (the agent's day and the "Next call" button), a call's
page (the person's essentials, the script, the survey to ask, the outcome buttons) and the
outcome's form. Every page needs ``persons:write`` (agents, marketers, admins); the services
are :mod:`closedloop.responses.calldesk` and :mod:`closedloop.responses.callcard`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response

from closedloop.deps import DbSession
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.i18n import N_
from closedloop.responses import calldesk, surveys
from closedloop.responses.callcard import call_card
from closedloop.responses.desk import CallOutcome
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.web.rendering import flash, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import not_found, requires

router = page_router()
Agent = Annotated[User, requires(Permission.PERSONS_WRITE)]
CallId = Annotated[int, Path(ge=1, le=2**63 - 1)]

#: the outcome buttons, in the order the page shows them
BUTTONS: list[tuple[str, str]] = [
    (CallOutcome.REACHED.value, N_("Reached")),
    (CallOutcome.INTERESTED.value, N_("Interested")),
    (CallOutcome.SALE.value, N_("Sale")),
    (CallOutcome.APPOINTMENT.value, N_("Appointment")),
    (CallOutcome.NOT_INTERESTED.value, N_("Not interested")),
    (CallOutcome.CALL_BACK.value, N_("Call back at…")),
    (CallOutcome.NO_ANSWER.value, N_("No answer")),
    (CallOutcome.VOICEMAIL.value, N_("Voicemail")),
    (CallOutcome.WRONG_NUMBER.value, N_("Wrong number")),
    (CallOutcome.REFUSED.value, N_("Refused")),
    (CallOutcome.DO_NOT_CALL.value, N_("Do not call again")),
]
#: outcomes after which the survey's answers, if any were given, are stored
ASKED = {o.value for o in calldesk.REACHED}


@router.get("/desk", response_class=Response)
def desk_page(request: Request, db: DbSession, user: Agent) -> Response:
    """The agent's day at the desk (calls done, capacity, calls waiting) and the call in hand."""
    day = calldesk.agent_day(db, user.username)
    held = calldesk.held_call(db, user.username)
    context = {"active": "desk", "day": day, "held": held, "waiting": calldesk.waiting(db)}
    return render(request, "calldesk/index.html", context)


@router.post("/desk/next", response_class=Response)
def desk_next(request: Request, db: DbSession, user: Agent) -> Response:
    """Take the next call of the running phone waves (or say why there is none)."""
    got = calldesk.next_call(db, user.username)
    if got.communication_id is None:
        messages = {
            "capacity": N_("You reached today's number of calls."),
            "empty": N_("Nobody is waiting to be called."),
            "outside_times": N_("Everybody waiting prefers to be called at another time."),
        }
        flash(request, messages[got.reason or "empty"], "info")
        return RedirectResponse("/desk", status_code=303)
    return RedirectResponse(f"/desk/calls/{got.communication_id}", status_code=303)


def _card_page(
    request: Request,
    db: DbSession,
    call_id: int,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    viewer: User | None = None,
) -> Response:
    try:
        card = call_card(db, call_id)
    except NotFound as exc:
        raise not_found() from exc
    if viewer is not None:
        users_service.audit(db, viewer, "view", "person", card.person_id, channel="web")
    context = {
        "active": "desk",
        "card": card,
        "buttons": BUTTONS,
        "values": values,
        "errors": errors,
    }
    return render(request, "calldesk/call.html", context, status=status)


@router.get("/desk/calls/{call_id}", response_class=Response)
def call_page(request: Request, db: DbSession, user: Agent, call_id: CallId) -> Response:
    """A call: the person's essentials, the script, the survey and the outcome buttons."""
    return _card_page(request, db, call_id, {}, {}, viewer=user)


def _local(raw: str) -> datetime | None:
    if not raw:
        return None
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        value = value.replace(tzinfo=calldesk.desk_zone())
    return value


@router.post("/desk/calls/{call_id}", response_class=Response)
async def call_outcome(request: Request, db: DbSession, user: Agent, call_id: CallId) -> Response:
    """Record the call's outcome (and the survey's answers); the form again, saying why, when
    something does not fit — nothing is stored then."""
    form = await request.form()
    values: dict[str, Any] = {}
    for name in form:
        got = [v for v in form.getlist(name) if isinstance(v, str)]
        values[name] = got if len(got) > 1 else (got[0] if got else "")
    errors: dict[str, str] = {}
    raw_outcome = form_str(form, "outcome")
    try:
        outcome = CallOutcome(raw_outcome)
    except ValueError:
        errors["outcome"] = "Choose one of the outcome buttons."
    try:
        back = _local(form_str(form, "call_back_at").strip())
    except ValueError:
        errors["call_back_at"] = "Write a date and time, e.g. 2026-12-08 14:30."
        back = None
    note = form_str(form, "note").strip()[:2000] or None
    if errors:
        return _card_page(request, db, call_id, values, errors, status=422)
    try:
        card = call_card(db, call_id)
    except NotFound as exc:
        raise not_found() from exc
    answers = {q.code: values.get(q.code or "", "") for q in card.questions if q.code}
    asked = any(v not in ("", []) for v in answers.values())
    try:
        with db.begin_nested():
            result = calldesk.finish_call(
                db,
                call_id,
                user.username,
                outcome,
                note=note,
                call_back_at=back if outcome is CallOutcome.CALL_BACK else None,
            )
            if asked and card.survey is not None and outcome.value in ASKED:
                surveys.submit(db, card.survey, answers, communication_id=call_id, channel="phone")
    except ValidationFailed as exc:
        errors = {
            str(e.get("field", "")).removeprefix("answers."): str(e.get("message", ""))
            for e in exc.errors
        }
        return _card_page(request, db, call_id, values, errors, status=422)
    except Conflict as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/desk", status_code=303)
    users_service.audit(db, user, "call", "person", card.person_id, channel="web")
    flash(request, N_("The call's outcome is recorded."))
    if result.status == "queued" and result.due_at is not None:
        flash(request, N_("The person is due again later."), "info")
    return RedirectResponse("/desk", status_code=303)
