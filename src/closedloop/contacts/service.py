"""Use cases of the customer record: create, read, update (optimistic lock), delete, search.

Every function takes a session and leaves the commit to the caller.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from closedloop.contacts import queries
from closedloop.contacts.fields import PERSON_FIELD_NAMES
from closedloop.contacts.models import Address, Email, Identifier, Person, Phone
from closedloop.contacts.normalize import (
    normalize_email,
    normalize_phone,
    phone_line_type,
    search_key,
)
from closedloop.contacts.schemas import (
    AddressCreate,
    EmailCreate,
    PersonCreate,
    PersonFilter,
    PersonUpdate,
    PhoneCreate,
)
from closedloop.contacts.validation import NOBODY, identifies
from closedloop.db.base import utcnow
from closedloop.errors import Conflict, NotFound, Refused, ValidationFailed
from closedloop.hookspecs import pm
from closedloop.settings import get_settings

_SIMPLE_FIELDS = PERSON_FIELD_NAMES


def _build_emails(items: list[EmailCreate], errors: list[dict[str, Any]]) -> list[Email]:
    out: list[Email] = []
    for i, item in enumerate(items):
        try:
            address, key = normalize_email(item.address)
        except ValueError as exc:
            errors.append({"field": f"emails[{i}].address", "message": str(exc)})
            continue
        out.append(
            Email(
                address=address, address_key=key, kind=item.kind.value, is_primary=item.is_primary
            )
        )
    return out


def _build_phones(
    items: list[PhoneCreate], country: str, errors: list[dict[str, Any]]
) -> list[Phone]:
    out: list[Phone] = []
    for i, item in enumerate(items):
        try:
            e164 = normalize_phone(item.number, item.country or country)
        except ValueError as exc:
            errors.append({"field": f"phones[{i}].number", "message": str(exc)})
            continue
        out.append(
            Phone(
                e164=e164,
                raw=item.number,
                line_type=phone_line_type(e164),
                kind=item.kind.value,
                is_primary=item.is_primary,
            )
        )
    return out


def _build_addresses(items: list[AddressCreate]) -> list[Address]:
    return [
        Address(
            **item.model_dump(exclude={"kind", "postal_code"}),
            postal_code=" ".join(item.postal_code.upper().split()) if item.postal_code else None,
            kind=item.kind.value,
        )
        for item in items
    ]


def _mark_primary(points: list[Any]) -> None:
    """Exactly one primary per kind of contact point: the first flagged one, else the first."""
    if not points:
        return
    chosen = next((p for p in points if p.is_primary), points[0])
    for p in points:
        p.is_primary = p is chosen


def _set_keys(person: Person) -> None:
    person.given_key = search_key(person.given_name)
    person.family_key = search_key(person.family_name)


def _contact_points(
    data: PersonCreate | PersonUpdate, person: Person | None
) -> dict[str, list[Any]]:
    """Validate and build the contact points given in ``data``; raise all errors at once."""
    errors: list[dict[str, Any]] = []
    addresses = _build_addresses(data.addresses) if data.addresses is not None else None
    country = next((a.country for a in addresses or [] if a.country), None)
    if country is None and person is not None:
        country = next((a.country for a in person.addresses if a.country), None)
    country = country or get_settings().default_country
    built: dict[str, list[Any]] = {}
    if data.emails is not None:
        built["emails"] = _build_emails(data.emails, errors)
    if data.phones is not None:
        built["phones"] = _build_phones(data.phones, country, errors)
    if addresses is not None:
        built["addresses"] = addresses
    if errors:
        raise ValidationFailed("Some contact details are not valid.", errors=errors)
    for points in built.values():
        _mark_primary(points)
    return built


#: How a stored contact point is recognised in an edited list, and what an edit may change.
_SAME = {
    "emails": ("address_key", ("address", "kind", "is_primary")),
    "phones": ("e164", ("raw", "line_type", "kind", "is_primary")),
}


def _keep_known(name: str, stored: list[Any], edited: list[Any]) -> list[Any]:
    """The edited list, reusing the stored rows it still names (same normalised address or
    number), so they keep their id, source, verification and history; addresses are
    replaced as given."""
    if name not in _SAME:
        return edited
    key, fields = _SAME[name]
    by_key = {getattr(p, key): p for p in stored}
    kept: list[Any] = []
    for point in edited:
        old = by_key.pop(getattr(point, key), None)
        if old is None:
            kept.append(point)
            continue
        for field in fields:
            setattr(old, field, getattr(point, field))
        kept.append(old)
    return kept


def create_person(session: Session, data: PersonCreate) -> Person:
    """Store a new person with their contact points; 409 if (source, external id) exists."""
    person = Person(
        **data.model_dump(include=set(_SIMPLE_FIELDS), exclude_none=True),
        source_system=data.source_system,
        external_id=data.external_id,
    )
    if data.lifecycle_status is not None:
        person.lifecycle_status = data.lifecycle_status.value
    _set_keys(person)
    for name, points in _contact_points(data, None).items():
        setattr(person, name, points)
    if data.external_id is not None:
        existing = session.scalar(
            select(Person.id).where(
                Person.source_system == data.source_system,
                Person.external_id == data.external_id,
            )
        )
        if existing is not None:
            raise Conflict(
                f"A person with external id {data.external_id!r} from "
                f"{data.source_system or 'no source'} already exists (#{existing})."
            )
    session.add(person)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("The person conflicts with a stored record.") from exc
    _announce(session, person, created=True)
    return person


def _announce(session: Session, person: Person, *, created: bool) -> None:
    """Tell the plugins (the online duplicate check) that a person was saved."""
    pm.hook.person_saved(session=session, person_id=person.id, created=created)


def get_person(session: Session, person_id: int) -> Person:
    """The person with this id and their contact points; NotFound otherwise."""
    stmt = queries.with_contact_points(select(Person).where(Person.id == person_id))
    person = session.scalar(stmt)
    if person is None:
        raise NotFound(f"Person {person_id} does not exist.")
    return person


def golden_record(session: Session, person_id: int) -> Person:
    """The golden record a person was merged into (following chains, loops cut), or the
    person itself; NotFound when the id names nobody."""
    person = session.get(Person, person_id)
    seen: set[int] = set()
    while person is not None and person.merged_into_id is not None and person.id not in seen:
        seen.add(person.id)
        person = session.get(Person, person.merged_into_id)
    if person is None:
        raise NotFound(f"Person {person_id} does not exist.")
    return person


def update_person(session: Session, person_id: int, data: PersonUpdate) -> Person:
    """Apply the fields set in ``data``; 409 if the person changed since ``data.version``."""
    person = get_person(session, person_id)
    if person.version != data.version:
        raise Conflict(
            f"Person {person_id} was changed by someone else (version {person.version}, "
            f"you had {data.version}). Reload and apply your change again."
        )
    for name in _SIMPLE_FIELDS:
        if name in data.model_fields_set:
            value = getattr(data, name)
            if name == "lifecycle_status" and value is None:
                continue
            setattr(person, name, value.value if hasattr(value, "value") else value)
    _set_keys(person)
    for name, points in _contact_points(data, person).items():
        setattr(person, name, _keep_known(name, getattr(person, name), points))
    _still_someone(session, person)
    # Touch the row so every update bumps the version, even one that only changes contacts.
    person.updated_at = utcnow()
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(f"Person {person_id} was changed by someone else meanwhile.") from exc
    _announce(session, person, created=False)
    return person


def _still_someone(session: Session, person: Person) -> None:
    """Refuse an update that leaves a person no one could identify (the rule of every
    entry point, :mod:`closedloop.contacts.validation`)."""
    if identifies(
        given_name=person.given_name,
        family_name=person.family_name,
        emails=person.emails,
        phones=person.phones,
        birth_date=person.birth_date,
        address=any(a.line1 or a.postal_code or a.locality for a in person.addresses),
    ):
        return
    held = session.scalar(select(Identifier.id).where(Identifier.person_id == person.id).limit(1))
    if held is None:
        raise ValidationFailed(
            f"Person {person.id} would name nobody.",
            errors=[{"field": "family_name", "message": NOBODY}],
        )


def delete_person(session: Session, person_id: int) -> None:
    """Delete a person and their contact points; refused while other records need them."""
    person = get_person(session, person_id)
    reasons = [r for r in pm.hook.person_delete_blockers(session=session, person_id=person_id) if r]
    if reasons:
        raise Refused(
            f"Person {person_id} cannot be deleted: {'; '.join(reasons)}. "
            "Their history is kept; use erasure (anonymisation) to remove personal data."
        )
    session.delete(person)
    session.flush()


def search_persons(
    session: Session,
    flt: PersonFilter,
    *,
    limit: int = 50,
    offset: int = 0,
    count_cap: int | None = None,
) -> tuple[list[Person], int]:
    """One page of persons matching ``flt`` and how many match: exactly (the whole base is
    counted on indexes), or up to ``count_cap`` when one is given."""
    stmt = queries.person_search(flt, get_settings().default_country)
    if count_cap is not None:
        counted = queries.capped_count(stmt, count_cap)
    elif flt.is_empty():
        counted = queries.count_golden()
    else:
        counted = queries.exact_count(stmt)
    total = session.scalar(counted) or 0
    page = queries.with_contact_points(
        stmt.order_by(Person.family_key, Person.given_key, Person.id).limit(limit).offset(offset)
    )
    return list(session.scalars(page)), total
