"""Find the person behind an address or a token, following merges to the golden record."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Email, Person
from closedloop.errors import NotFound

#: Merge chains are short; a longer one is a loop and is cut.
MAX_HOPS = 20


def resolve_person(session: Session, person_id: int) -> Person:
    """The golden record of ``person_id`` (itself unless it was merged); NotFound if gone."""
    person = session.get(Person, person_id)
    hops = 0
    while person is not None and person.merged_into_id is not None and hops < MAX_HOPS:
        person = session.get(Person, person.merged_into_id)
        hops += 1
    if person is None:
        raise NotFound(f"Person {person_id} does not exist.")
    return person


def find_by_email(session: Session, address: str) -> Person | None:
    """The (golden) person holding the normalised ``address``, or None.

    When several persons hold it, golden records and primary addresses come first, then the
    oldest record, so the answer is stable.
    """
    key = address.strip().casefold()
    person_id = session.scalar(
        select(Email.person_id)
        .join(Person, Person.id == Email.person_id)
        .where(Email.address_key == key)
        .order_by(
            Person.merged_into_id.is_not(None),
            Email.is_primary.desc(),
            Person.id,
        )
        .limit(1)
    )
    return None if person_id is None else resolve_person(session, person_id)
