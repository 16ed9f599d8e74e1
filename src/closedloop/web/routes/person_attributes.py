"""From the person card: edit and remove the person's values of the attribute catalogue.

One form shows every attribute of the catalogue with its type's input (a number, a day, yes
or no, a choice, several choices, a text); a blank input removes the attribute's value. Every
value is checked by :mod:`closedloop.contacts.attribute_values` before anything is stored, and
each refused one is named next to its field. Staff who may edit persons use it; every change
is audited.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from closedloop.contacts import attribute_values as values_service
from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import AttributeDefinition, AttributeValue, Person
from closedloop.deps import DbSession
from closedloop.errors import NotFound, ValidationFailed
from closedloop.i18n import N_
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import AttributeType
from closedloop.web.rendering import flash, render
from closedloop.web.routes import page_router
from closedloop.web.security import not_found, requires

router = page_router()
Writer = Annotated[User, requires(Permission.PERSONS_WRITE)]

#: A refused value in words, by the service's ``kind``.
MESSAGES = {
    "number": N_("Enter a number, such as 3 or 2.5."),
    "date": N_("Enter a valid date (year-month-day)."),
    "boolean": N_("Choose yes or no."),
    "choice": N_("Choose a value from the list."),
    "single": N_("This attribute takes one value only."),
    "too_long": N_("This text is too long."),
    "unknown_attribute": N_("This attribute is not in the catalogue."),
}


def _person(db: DbSession, person_id: int) -> Person:
    try:
        return contacts_service.get_person(db, person_id)
    except NotFound as exc:
        raise not_found() from exc


def _as_text(attr: AttributeDefinition, value: AttributeValue) -> str:
    """A stored value as the form's input holds it."""
    if value.choice_id is not None:
        return next((c.code for c in attr.choices if c.id == value.choice_id), "")
    if value.value_bool is not None:
        return "1" if value.value_bool else "0"
    if value.value_date is not None:
        return value.value_date.isoformat()
    if value.value_number is not None:
        text = format(Decimal(value.value_number).normalize(), "f")
        return text
    return value.value_text or ""


def _current(db: DbSession, person: Person, catalogue: list[AttributeDefinition]) -> dict[str, Any]:
    stored = values_service.person_values(db, person.id)
    return {
        a.code: [_as_text(a, v) for v in stored.get(a.id, [])]
        for a in catalogue
    }  # fmt: skip


def _page(
    request: Request,
    person: Person,
    catalogue: list[AttributeDefinition],
    values: dict[str, list[str]],
    errors: dict[str, str],
) -> Response:
    context = {
        "active": "persons",
        "person": person,
        "catalogue": catalogue,
        "values": values,
        "errors": errors,
        "multi": AttributeType.MULTI_CHOICE.value,
    }
    return render(request, "persons/attributes.html", context, status=422 if errors else 200)


@router.get("/persons/{person_id:int}/attributes", response_class=Response)
def attributes_form(request: Request, person_id: int, db: DbSession, user: Writer) -> Response:
    """The form that edits the person's values of every catalogue attribute."""
    person = _person(db, person_id)
    catalogue = values_service.catalogue(db)
    return _page(request, person, catalogue, _current(db, person, catalogue), {})


def _error(exc: ValidationFailed) -> str:
    kind = next((str(e.get("kind", "")) for e in exc.errors), "")
    return MESSAGES.get(kind, N_("This value is not valid."))


@router.post("/persons/{person_id:int}/attributes", response_class=Response)
async def attributes_save(
    request: Request, person_id: int, db: DbSession, user: Writer
) -> Response:
    """Store the attributes the form shows (listed in its ``attrs`` fields): each input's
    value replaces the stored ones, a blank one removes them. Nothing is stored while a
    value is refused; each refused value is named next to its field."""
    person = _person(db, person_id)
    form = await request.form()
    by_code = {a.code: a for a in values_service.catalogue(db)}
    shown = [str(c) for c in form.getlist("attrs") if str(c) in by_code]
    submitted = {code: [str(v) for v in form.getlist(f"a-{code}")] for code in shown}
    errors: dict[str, str] = {}
    for code in [str(c) for c in form.getlist("attrs") if str(c) not in by_code]:
        errors[code] = MESSAGES["unknown_attribute"]
    for code, texts in submitted.items():
        try:
            values_service.parse_values(by_code[code], texts)
        except ValidationFailed as exc:
            errors[code] = _error(exc)
    if errors:
        catalogue = list(by_code.values())
        current = _current(db, person, catalogue)
        return _page(request, person, catalogue, {**current, **submitted}, errors)
    changed = [
        code
        for code, texts in submitted.items()
        if values_service.set_person_attribute(db, person.id, code, texts)
    ]
    if changed:
        users_service.audit(db, user, "attributes_changed", "person", person.id, channel="web",
                            detail={"attributes": changed})  # fmt: skip
        flash(request, N_("The attributes were saved."))
    else:
        flash(request, N_("Nothing was changed."), "info")
    return RedirectResponse(f"/persons/{person.id}#attributes", status_code=303)


@router.post("/persons/{person_id:int}/attributes/{code}/remove", response_class=Response)
def attribute_remove(
    request: Request, person_id: int, code: str, db: DbSession, user: Writer
) -> Response:
    """Remove every value of one attribute from the person."""
    person = _person(db, person_id)
    try:
        removed = values_service.remove_person_attribute(db, person.id, code)
    except ValidationFailed as exc:
        raise not_found() from exc
    if removed:
        users_service.audit(db, user, "attribute_removed", "person", person.id, channel="web",
                            detail={"attribute": code, "values": removed})  # fmt: skip
    flash(request, N_("The attribute was removed."))
    return RedirectResponse(f"/persons/{person.id}#attributes", status_code=303)
