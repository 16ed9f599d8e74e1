"""From the person card: add, change and remove any of the person's postal addresses (the
identity form edits the primary one only). Each change goes through
:mod:`closedloop.contacts.addresses` with the version the form was read at, so a change made
meanwhile by someone else is refused rather than overwritten; every change is audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from closedloop.contacts import addresses as addresses_service
from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import Address, Person
from closedloop.contacts.schemas import AddressCreate
from closedloop.deps import DbSession
from closedloop.errors import Conflict, NotFound
from closedloop.i18n import N_
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import ContactKind
from closedloop.web.rendering import flash, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import not_found, requires

router = page_router()
Writer = Annotated[User, requires(Permission.PERSONS_WRITE)]
FIELDS = ("line1", "line2", "postal_code", "locality", "region", "country", "kind")
KINDS = tuple(k.value for k in ContactKind)


def _person(db: DbSession, person_id: int) -> Person:
    try:
        return contacts_service.get_person(db, person_id)
    except NotFound as exc:
        raise not_found() from exc


def _address(person: Person, address_id: int) -> Address:
    try:
        return addresses_service.find_address(person, address_id)
    except NotFound as exc:
        raise not_found() from exc


def _page(
    request: Request,
    person: Person,
    address: Address | None,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    context = {"active": "persons", "person": person, "address": address, "values": values,
               "errors": errors, "kinds": KINDS}  # fmt: skip
    return render(request, "persons/address.html", context, status=422 if errors else status)


def _message(field: str, kind: str) -> str:
    if field == "country":
        return N_("Use a two-letter country code such as FR or RO.")
    if kind == "string_too_long":
        return N_("This text is too long.")
    if field == "kind":
        return N_("Choose a value from the list.")
    return N_("This value is not valid.")


def _parse(values: dict[str, str]) -> tuple[AddressCreate | None, dict[str, str]]:
    """The address the form describes, or the errors by field."""
    try:
        data = AddressCreate.model_validate(
            {k: v or None for k, v in values.items() if k in FIELDS}
        )
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "line1"
            errors.setdefault(field, _message(field, err["type"]))
        return None, errors
    if not data.places():
        return None, {"line1": N_("Give at least a street, a postal code or a town.")}
    return data, {}


async def _read(request: Request) -> tuple[dict[str, str], int]:
    form = await request.form()
    values = {k: form_str(form, k).strip() for k in FIELDS}
    version = form_str(form, "version")
    return values, int(version) if version.isdigit() else -1


def _done(request: Request, db: DbSession, user: User, person: Person, action: str) -> Response:
    users_service.audit(db, user, action, "person", person.id, channel="web")
    flash(request, N_("The address was saved.") if action != "address_removed"
          else N_("The address was removed."))  # fmt: skip
    return RedirectResponse(f"/persons/{person.id}#contact", status_code=303)


def _conflict(request: Request, person: Person, address: Address | None, values: Any) -> Response:
    errors = {"": N_("Someone changed this person meanwhile: reload the card and try again.")}
    return _page(request, person, address, values, errors)


@router.get("/persons/{person_id:int}/addresses/new", response_class=Response)
def address_new(request: Request, person_id: int, db: DbSession, user: Writer) -> Response:
    """The form that adds a postal address to the person."""
    person = _person(db, person_id)
    return _page(request, person, None, {"kind": "private"}, {})


@router.post("/persons/{person_id:int}/addresses", response_class=Response)
async def address_add(request: Request, person_id: int, db: DbSession, user: Writer) -> Response:
    """Add the form's address after the person's others."""
    person = _person(db, person_id)
    values, version = await _read(request)
    data, errors = _parse(values)
    if data is None:
        return _page(request, person, None, values, errors)
    try:
        addresses_service.add_address(db, person.id, version, data)
    except Conflict:
        db.rollback()
        return _conflict(request, _person(db, person_id), None, values)
    return _done(request, db, user, person, "address_added")


@router.get("/persons/{person_id:int}/addresses/{address_id:int}/edit", response_class=Response)
def address_edit(
    request: Request, person_id: int, address_id: int, db: DbSession, user: Writer
) -> Response:
    """The form that changes one of the person's addresses."""
    person = _person(db, person_id)
    address = _address(person, address_id)
    values = {k: str(getattr(address, k) or "") for k in FIELDS}
    return _page(request, person, address, values, {})


@router.post("/persons/{person_id:int}/addresses/{address_id:int}", response_class=Response)
async def address_save(
    request: Request, person_id: int, address_id: int, db: DbSession, user: Writer
) -> Response:
    """Replace one of the person's addresses by the form's; a refused field is named."""
    person = _person(db, person_id)
    address = _address(person, address_id)
    values, version = await _read(request)
    data, errors = _parse(values)
    if data is None:
        return _page(request, person, address, values, errors)
    try:
        addresses_service.change_address(db, person.id, address.id, version, data)
    except Conflict:
        db.rollback()
        person = _person(db, person_id)
        return _conflict(request, person, _address(person, address_id), values)
    return _done(request, db, user, person, "address_changed")


@router.post("/persons/{person_id:int}/addresses/{address_id:int}/remove", response_class=Response)
async def address_remove(
    request: Request, person_id: int, address_id: int, db: DbSession, user: Writer
) -> Response:
    """Remove one of the person's addresses (from the card's button)."""
    person = _person(db, person_id)
    address = _address(person, address_id)
    _values, version = await _read(request)
    try:
        addresses_service.remove_address(db, person.id, address.id, version)
    except Conflict:
        db.rollback()
        flash(request, N_("Someone changed this person meanwhile: reload the card and try again."),
              "error")  # fmt: skip
        return RedirectResponse(f"/persons/{person_id}#contact", status_code=303)
    return _done(request, db, user, person, "address_removed")
