"""A person's postal addresses one at a time: add, change or remove one of them.

Each use case goes through :func:`closedloop.contacts.service.update_person` with the person's
whole address list, the edited one replaced, so the version check, the schema's validation
(the country as a two-letter code…), the change history and the ``person changed`` hook are
the same as for any other edit of the person. The caller owns the transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from closedloop.contacts.models import Address, Person
from closedloop.contacts.schemas import AddressCreate, PersonUpdate
from closedloop.contacts.service import get_person, update_person
from closedloop.errors import NotFound

#: What an address keeps when the list is rebuilt around the edited one.
_KEPT = ("line1", "line2", "postal_code", "locality", "region", "country", "latitude",
         "longitude", "kind", "is_primary")  # fmt: skip


def _as_input(address: Address) -> dict[str, Any]:
    return {name: getattr(address, name) for name in _KEPT}


def find_address(person: Person, address_id: int) -> Address:
    """The person's address ``address_id``; NotFound when it is not one of theirs."""
    found = next((a for a in person.addresses if a.id == address_id), None)
    if found is None:
        raise NotFound(f"Person {person.id} has no address {address_id}.")
    return found


def _save(session: Session, person: Person, version: int, items: list[dict[str, Any]]) -> Person:
    update = PersonUpdate.model_validate({"version": version, "addresses": items})
    return update_person(session, person.id, update)


def add_address(session: Session, person_id: int, version: int, data: AddressCreate) -> Person:
    """Add an address to the person (after the others; primary only if it says so)."""
    person = get_person(session, person_id)
    items = [_as_input(a) for a in person.addresses]
    if data.is_primary:
        items = [{**item, "is_primary": False} for item in items]
    return _save(session, person, version, [*items, data.model_dump()])


def change_address(
    session: Session, person_id: int, address_id: int, version: int, data: AddressCreate
) -> Person:
    """Replace the person's address ``address_id`` by ``data``; it keeps its place and whether
    it is the primary one. The region and coordinates go with the place: kept only if the
    postal code, locality and country did not change."""
    person = get_person(session, person_id)
    old = find_address(person, address_id)
    new = data.model_dump()
    same_place = all(
        (getattr(old, k) or None) == (new[k] or None)
        for k in ("postal_code", "locality", "country")
    )
    for name in ("region", "latitude", "longitude"):
        if new[name] is None and same_place:
            new[name] = getattr(old, name)
    new["is_primary"] = old.is_primary
    items = [new if a is old else _as_input(a) for a in person.addresses]
    return _save(session, person, version, items)


def remove_address(session: Session, person_id: int, address_id: int, version: int) -> Person:
    """Remove the person's address ``address_id`` (the next one becomes primary if it was)."""
    person = get_person(session, person_id)
    old = find_address(person, address_id)
    items = [_as_input(a) for a in person.addresses if a is not old]
    if old.is_primary and items:
        items[0]["is_primary"] = True
    return _save(session, person, version, items)
