"""Find the person behind an address or a token, following merges to the golden record."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Email, Person
from closedloop.contacts.service import golden_record


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
    return None if person_id is None else golden_record(session, person_id)
