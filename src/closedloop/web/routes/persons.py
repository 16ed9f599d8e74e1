"""The persons list, the person card (M16) and the identity edit form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonFilter
from closedloop.dedupe.candidates import pending_for
from closedloop.dedupe.merge import merges_of
from closedloop.dedupe.online import saved_candidates
from closedloop.deps import DbSession
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.i18n import N_
from closedloop.reports.card import build_card
from closedloop.responses.survey_report import satisfaction
from closedloop.settings import get_settings
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import LifecycleStatus
from closedloop.web import person_form
from closedloop.web.card_view import card_context
from closedloop.web.labels import LIFECYCLE_CODES
from closedloop.web.rendering import flash, gettext_for, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import WebError, not_found, requires

router = page_router()

#: The longest search text read from the address bar.
MAX_QUERY = 200

Reader = Annotated[User, requires(Permission.PERSONS_READ)]
Writer = Annotated[User, requires(Permission.PERSONS_WRITE)]


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or "1"), 1_000_000))
    except ValueError:
        return 1


def _primary(points: list[object]) -> object | None:
    return next((p for p in points if getattr(p, "is_primary", False)), None) or (
        points[0] if points else None
    )


def _row(person: Person) -> dict[str, object]:
    return {
        "person": person,
        "email": _primary(list(person.emails)),
        "phone": _primary(list(person.phones)),
        "address": _primary(list(person.addresses)),
    }


@router.get("/persons", response_class=Response)
def persons_list(request: Request, db: DbSession, user: Reader) -> Response:
    """Search persons by name, email, phone or postal code, filter by lifecycle, page through."""
    params = request.query_params
    q = (params.get("q") or "").strip()[:MAX_QUERY]
    status = params.get("status") or ""
    lifecycle = LifecycleStatus(status) if status in LIFECYCLE_CODES else None
    page = _page_number(params.get("page"))
    size = get_settings().page_size
    flt = PersonFilter(q=q or None, lifecycle_status=lifecycle)
    persons, total = contacts_service.search_persons(db, flt, limit=size, offset=(page - 1) * size)
    context = {
        "active": "persons",
        "q": q,
        "status": status if lifecycle else "",
        "rows": [_row(p) for p in persons],
        "total": total,
        "page": page,
        "first_index": (page - 1) * size + 1,
        "has_prev": page > 1,
        "has_next": page * size < total,
        "lifecycle_codes": LIFECYCLE_CODES,
    }
    # Search-as-you-type asks for the results only (the page works without it).
    partial = request.headers.get("X-Requested-With") == "closedloop"
    return render(request, "persons/_results.html" if partial else "persons/list.html", context)


@router.get("/persons/{person_id:int}", response_class=Response)
def person_card(request: Request, person_id: int, db: DbSession, user: Reader) -> Response:
    """The whole record of one person; every view is written to the audit trail."""
    try:
        card = build_card(db, person_id)
    except NotFound as exc:
        raise not_found() from exc
    users_service.audit(db, user, "viewed", "person", person_id, channel="web")
    context = card_context(card, get_settings().default_currency)
    context["active"] = "persons"
    context["merges"] = merges_of(db, person_id)
    context["duplicates"] = pending_for(db, person_id)  # identity resolution's warning
    context["satisfaction"] = satisfaction(db, person_id)  # latest NPS and CSAT answers
    return render(request, "persons/card.html", context)


def _edit_page(
    request: Request,
    person: Person,
    values: dict[str, str],
    *,
    version: int,
    errors: dict[str, list[str]] | None = None,
    conflict: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "active": "persons",
        "person": person,
        "values": values,
        "version": version,
        "errors": errors or {},
        "conflict": conflict,
        "lifecycle_codes": LIFECYCLE_CODES,
    }
    return render(request, "persons/edit.html", context, status=status)


def _load(db: Session, person_id: int) -> Person:
    try:
        return contacts_service.get_person(db, person_id)
    except NotFound as exc:
        raise not_found() from exc


@router.get("/persons/{person_id:int}/edit", response_class=Response)
def edit_form(request: Request, person_id: int, db: DbSession, user: Writer) -> Response:
    """The identity form, filled with the stored values and the version read."""
    person = _load(db, person_id)
    values = person_form.current_values(person)
    return _edit_page(request, person, values, version=person.version)


@router.post("/persons/{person_id:int}/edit", response_class=Response)
async def edit_save(request: Request, person_id: int, db: DbSession, user: Writer) -> Response:
    """Save the identity form. A stale version is refused (409) and the input is kept."""
    gettext = gettext_for(request)
    form = await request.form()
    try:
        version = int(form_str(form, "version"))
    except ValueError as exc:
        raise WebError(
            400, N_("Bad request"), N_("The form is incomplete. Reload the page.")
        ) from exc
    person = _load(db, person_id)
    before = person_form.current_values(person)
    parsed = person_form.parse(form, person, version, gettext)
    if parsed.update is None:
        return _edit_page(
            request, person, parsed.values, version=version, errors=parsed.errors, status=422
        )
    try:
        contacts_service.update_person(db, person_id, parsed.update)
    except ValidationFailed as exc:
        # The service may have set some fields before it failed: keep none of them.
        db.rollback()
        person = _load(db, person_id)
        errors = person_form.service_errors(exc, gettext)
        return _edit_page(
            request, person, parsed.values, version=version, errors=errors, status=422
        )
    except Conflict:
        db.rollback()
        person = _load(db, person_id)
        current = person_form.current_values(person)
        return _edit_page(
            request, person, parsed.values, version=person.version, conflict=current, status=409
        )
    changed = [name for name in person_form.FIELDS if before[name] != parsed.values[name]]
    users_service.audit(
        db, user, "updated", "person", person_id, channel="web", detail={"fields": changed}
    )
    flash(request, N_("Changes saved."))
    if saved_candidates(db, person_id):  # the online duplicate check found someone close
        flash(request, N_("This person may be a duplicate: see the warning below."), "info")
    return RedirectResponse(f"/persons/{person_id}", status_code=303)
