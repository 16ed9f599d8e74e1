"""From the person card: record a consent (with the proof the ledger requires) and plan a
task or an appointment. Staff who may edit persons use them; every change is audited."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from closedloop import i18n
from closedloop.automation import planning
from closedloop.consent import service as consent_service
from closedloop.contacts import service as contacts_service
from closedloop.deps import DbSession
from closedloop.errors import NotFound, ValidationFailed
from closedloop.i18n import N_
from closedloop.settings import get_settings
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose
from closedloop.web.labels import CHANNEL_CODES, PURPOSE_CODES
from closedloop.web.rendering import flash, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import not_found, requires

router = page_router()
Writer = Annotated[User, requires(Permission.PERSONS_WRITE)]
#: How staff can have learnt a person's choice (the ledger's ``method``).
STAFF_METHODS = (ConsentMethod.AGENT.value, ConsentMethod.PAPER.value)


def _person(db: DbSession, person_id: int) -> Any:
    try:
        return contacts_service.get_person(db, person_id)
    except NotFound as exc:
        raise not_found() from exc


def _local_time(day: str, clock: str = "") -> datetime | None:
    """A day (and time) typed in the configured time zone, as an aware datetime."""
    try:
        parsed_day = date.fromisoformat(day)
        parsed_time = time.fromisoformat(clock) if clock else time(9, 0)
    except ValueError:
        return None
    zone = i18n.time_zone(get_settings().timezone)
    return datetime.combine(parsed_day, parsed_time, tzinfo=zone)


def _errors(exc: ValidationFailed) -> dict[str, str]:
    return {e.get("field", ""): e.get("message", "") for e in exc.errors} or {"": exc.detail}


@router.get("/persons/{person_id:int}/consents/new", response_class=Response)
def consent_form(request: Request, person_id: int, db: DbSession, user: Writer) -> Response:
    """The form that records a person's consent or withdrawal, told to staff."""
    person = _person(db, person_id)
    return _consent_page(request, person, {}, {})


def _consent_page(
    request: Request, person: Any, values: dict[str, str], errors: dict[str, str]
) -> Response:
    context = {
        "active": "persons",
        "person": person,
        "values": values,
        "errors": errors,
        "channels": CHANNEL_CODES,
        "purposes": PURPOSE_CODES,
        "methods": STAFF_METHODS,
    }
    return render(request, "persons/consent_new.html", context, status=422 if errors else 200)


@router.post("/persons/{person_id:int}/consents", response_class=Response)
async def record_consent(request: Request, person_id: int, db: DbSession, user: Writer) -> Response:
    """Record a grant (with the text the person agreed to) or a withdrawal, by whom and how;
    the card's consent grid and history show it at once."""
    person = _person(db, person_id)
    form = await request.form()
    values = {k: form_str(form, k).strip() for k in
              ("channel", "purpose", "state", "method", "proof_text", "proof_version")}  # fmt: skip
    errors: dict[str, str] = {}
    if values["channel"] not in CHANNEL_CODES:
        errors["channel"] = N_("Choose a channel.")
    if values["purpose"] not in PURPOSE_CODES:
        errors["purpose"] = N_("Choose a purpose.")
    if values["state"] not in (ConsentState.GRANTED.value, ConsentState.WITHDRAWN.value):
        errors["state"] = N_("Choose granted or withdrawn.")
    if values["method"] not in STAFF_METHODS:
        errors["method"] = N_("Say how the person told you.")
    if values["state"] == ConsentState.GRANTED.value and not values["proof_text"]:
        errors["proof_text"] = N_(
            "A consent needs its proof: the text the person agreed to, as they were told it."
        )
    if errors:
        return _consent_page(request, person, values, errors)
    event = consent_service.record_consent(
        db,
        person.id,
        Channel(values["channel"]),
        Purpose(values["purpose"]),
        ConsentState(values["state"]),
        method=ConsentMethod(values["method"]),
        proof_text=values["proof_text"][:2000] or None,
        proof_version=values["proof_version"][:50] or None,
        source_system="web",
        recorded_by=user.username,
    )
    users_service.audit(db, user, "consent_recorded", "person", person.id, channel="web",
                        detail={"event_id": event.id, "channel": event.channel,
                                "purpose": event.purpose, "state": event.state})  # fmt: skip
    flash(request, N_("The consent was recorded."))
    return RedirectResponse(f"/persons/{person.id}#consents", status_code=303)


@router.get("/persons/{person_id:int}/plan", response_class=Response)
def plan_form(request: Request, person_id: int, db: DbSession, user: Writer) -> Response:
    """The forms that add a task or an appointment about a person."""
    return _plan_page(request, _person(db, person_id), {}, {})


def _plan_page(
    request: Request, person: Any, values: dict[str, str], errors: dict[str, str]
) -> Response:
    context = {
        "active": "persons",
        "person": person,
        "values": values,
        "errors": errors,
        "task_kinds": planning.TASK_KINDS,
    }
    return render(request, "persons/plan.html", context, status=422 if errors else 200)


@router.post("/persons/{person_id:int}/tasks", response_class=Response)
async def add_task(request: Request, person_id: int, db: DbSession, user: Writer) -> Response:
    """Add an open task about the person, assigned to the user who adds it."""
    person = _person(db, person_id)
    form = await request.form()
    values = {k: form_str(form, k).strip() for k in ("kind", "title", "due")}
    due = _local_time(values["due"]) if values["due"] else None
    if values["due"] and due is None:
        return _plan_page(request, person, values, {"due": N_("Give a date.")})
    try:
        task = planning.create_task(db, person.id, kind=values["kind"], title=values["title"],
                                    due_at=due, assignee_id=user.id)  # fmt: skip
    except ValidationFailed as exc:
        db.rollback()
        return _plan_page(request, person, values, _errors(exc))
    users_service.audit(db, user, "task_created", "person", person.id, channel="web",
                        detail={"task_id": task.id})  # fmt: skip
    flash(request, N_("The task was added."))
    return RedirectResponse(f"/persons/{person.id}#tasks", status_code=303)


@router.post("/persons/{person_id:int}/appointments", response_class=Response)
async def add_appointment(
    request: Request, person_id: int, db: DbSession, user: Writer
) -> Response:
    """Add an appointment with the person, held by the user who adds it."""
    person = _person(db, person_id)
    form = await request.form()
    values = {k: form_str(form, k).strip() for k in ("subject", "day", "time", "location")}
    starts = _local_time(values["day"], values["time"]) if values["day"] else None
    try:
        appointment = planning.create_appointment(db, person.id, subject=values["subject"],
                                                  starts_at=starts, location=values["location"],
                                                  user_id=user.id)  # fmt: skip
    except ValidationFailed as exc:
        db.rollback()
        return _plan_page(request, person, values, _errors(exc))
    users_service.audit(db, user, "appointment_created", "person", person.id, channel="web",
                        detail={"appointment_id": appointment.id})  # fmt: skip
    flash(request, N_("The appointment was added."))
    return RedirectResponse(f"/persons/{person.id}#tasks", status_code=303)
