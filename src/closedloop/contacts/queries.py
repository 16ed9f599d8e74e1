"""Statements over persons and their contact points. Nothing here commits."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from closedloop.contacts.models import Address, Email, Person, Phone
from closedloop.contacts.normalize import (
    is_cjk,
    looks_like_phone,
    looks_like_postal_code,
    normalize_phone,
    search_key,
)
from closedloop.contacts.schemas import PersonFilter

#: The highest code point: ``key < prefix + TOP`` closes a prefix range that uses the index.
TOP = "\U0010ffff"


def prefix(column: ColumnElement[str | None] | object, value: str) -> ColumnElement[bool]:
    """``column`` starts with ``value``, written as a range so a B-tree index serves it."""
    col: ColumnElement[str] = column  # type: ignore[assignment]
    return and_(col >= value, col < value + TOP)


def name_condition(query: str) -> ColumnElement[bool] | None:
    """Match family and given names by prefix, in either order ("Martin Jean", "Jean Martin").

    A Chinese name typed without a space (王伟) is split after a one- or two-character surname.
    """
    tokens = (search_key(query) or "").split()
    if not tokens:
        return None
    if len(tokens) == 1:
        tok = tokens[0]
        options = [prefix(Person.family_key, tok), prefix(Person.given_key, tok)]
        if is_cjk(tok) and len(tok) >= 2:
            for cut in (1, 2):
                if len(tok) > cut:
                    options.append(
                        and_(Person.family_key == tok[:cut], prefix(Person.given_key, tok[cut:]))
                    )
        return or_(*options)
    first, rest = tokens[0], " ".join(tokens[1:])
    return or_(
        and_(prefix(Person.given_key, first), prefix(Person.family_key, rest)),
        and_(prefix(Person.family_key, first), prefix(Person.given_key, rest)),
    )


def email_condition(query: str) -> ColumnElement[bool]:
    """Persons with an email starting with ``query`` (case-insensitive)."""
    key = query.strip().casefold()
    return Person.id.in_(select(Email.person_id).where(prefix(Email.address_key, key)))


def phone_condition(query: str, default_country: str) -> ColumnElement[bool]:
    """Persons with this phone number, typed in any common form."""
    try:
        e164 = normalize_phone(query, default_country)
    except ValueError:
        digits = "".join(ch for ch in query if ch.isdigit())
        e164 = "+" + digits
    return Person.id.in_(select(Phone.person_id).where(Phone.e164 == e164))


def postal_code_condition(query: str) -> ColumnElement[bool]:
    """Persons with an address whose postal code starts with ``query``."""
    code = " ".join(query.upper().split())
    return Person.id.in_(select(Address.person_id).where(prefix(Address.postal_code, code)))


def free_text_condition(query: str, default_country: str) -> ColumnElement[bool] | None:
    """Interpret one search box: an email, a phone number, a postal code or a name."""
    q = query.strip()
    if not q:
        return None
    if "@" in q:
        return email_condition(q)
    if looks_like_phone(q):
        return phone_condition(q, default_country)
    if looks_like_postal_code(q):
        name = name_condition(q)
        code = postal_code_condition(q)
        return or_(code, name) if name is not None else code
    return name_condition(q)


def person_search(flt: PersonFilter, default_country: str) -> Select[Person]:
    """The persons matching ``flt`` (golden records only), ordered by name."""
    stmt = select(Person).where(Person.merged_into_id.is_(None))
    conditions: list[ColumnElement[bool] | None] = []
    if flt.q:
        conditions.append(free_text_condition(flt.q, default_country))
    if flt.name:
        conditions.append(name_condition(flt.name))
    if flt.email:
        conditions.append(email_condition(flt.email))
    if flt.phone:
        conditions.append(phone_condition(flt.phone, default_country))
    if flt.postal_code:
        conditions.append(postal_code_condition(flt.postal_code))
    if flt.lifecycle_status:
        conditions.append(Person.lifecycle_status == flt.lifecycle_status.value)
    if flt.country:
        conditions.append(
            exists().where(Address.person_id == Person.id, Address.country == flt.country.upper())
        )
    for cond in conditions:
        if cond is not None:
            stmt = stmt.where(cond)
    return stmt


def with_contact_points(stmt: Select[Person]) -> Select[Person]:
    """Load emails, phones and addresses in three extra queries instead of one per person."""
    return stmt.options(
        selectinload(Person.emails), selectinload(Person.phones), selectinload(Person.addresses)
    )


def count_golden() -> Select[int]:
    """How many persons are golden records (not merged into another), counted on indexes:
    all persons (the table's smallest index) less the merged ones (their partial index)."""
    merged = select(func.count()).where(Person.merged_into_id.is_not(None)).scalar_subquery()
    return select(func.count(Person.id) - merged)


def exact_count(stmt: Select[Person]) -> Select[int]:
    """How many rows ``stmt`` matches, exactly."""
    sub = stmt.with_only_columns(Person.id).order_by(None).subquery()
    return select(func.count()).select_from(sub)


def capped_count(stmt: Select[Person], cap: int) -> Select[int]:
    """Count the rows of ``stmt`` but stop at ``cap`` so a broad search stays fast."""
    sub = stmt.with_only_columns(Person.id).order_by(None).limit(cap).subquery()
    return select(func.count()).select_from(sub)
