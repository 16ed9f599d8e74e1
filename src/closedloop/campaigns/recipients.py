"""What a message needs to know about its recipients, read for a whole batch at once.

For each person: the fields a template may use
(:data:`closedloop.campaigns.template_names.PERSON_FIELDS`), the address the channel goes to
(the primary valid email; the primary valid mobile number; the primary valid postal address)
and its key for suppression lists, and whether the record was merged into another (then the
golden record is the one to write to). Four indexed queries
per batch, whatever its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Address, Email, Person, Phone
from closedloop.contacts.normalize import is_cjk
from closedloop.vocab import Channel

_CHUNK = 900


@dataclass(frozen=True)
class PostalLines:
    """A postal address as stored (the letter channel formats it per country)."""

    line1: str | None
    line2: str | None
    postal_code: str | None
    locality: str | None
    region: str | None
    country: str | None


@dataclass(frozen=True)
class Recipient:
    """One person as a message sees them."""

    person_id: int
    fields: dict[str, Any]
    language: str | None
    merged_into_id: int | None
    email: str | None = None
    email_key: str | None = None
    phone: str | None = None
    postal: PostalLines | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def address_for(self, channel: Channel) -> str | None:
        """Where a message of ``channel`` goes, or None when the person has no valid one."""
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.SMS:
            return self.phone
        if channel is Channel.LETTER and self.postal is not None:
            return " ".join(p for p in (self.postal.postal_code, self.postal.locality) if p)
        return None

    def address_key(self, channel: Channel) -> str | None:
        """The key suppression lists use for that address (normalised email, E.164)."""
        if channel is Channel.EMAIL:
            return self.email_key
        if channel is Channel.SMS:
            return self.phone
        return None


def full_name(given: str | None, family: str | None) -> str | None:
    """The name as its culture writes it (王伟 family first without space; Jean Dupont)."""
    if family and is_cjk(family):
        return f"{family}{given or ''}"
    return " ".join(p for p in (given, family) if p) or None


def _best(rows: Sequence[Any]) -> dict[int, Any]:
    """The first row per person of rows ordered best first."""
    chosen: dict[int, Any] = {}
    for row in rows:
        chosen.setdefault(row.person_id, row)
    return chosen


def load_recipients(
    session: Session, person_ids: Sequence[int], channel: Channel | None = None
) -> dict[int, Recipient]:
    """The recipients among ``person_ids`` that exist (a deleted person is simply absent)."""
    ids = list(dict.fromkeys(person_ids))
    out: dict[int, Recipient] = {}
    for start in range(0, len(ids), _CHUNK):
        out.update(_load(session, ids[start : start + _CHUNK]))
    return out


def _load(session: Session, ids: Sequence[int]) -> dict[int, Recipient]:
    conn = session.connection()  # plain rows: the ORM's entity machinery is not needed
    people = conn.execute(
        select(
            Person.id,
            Person.salutation,
            Person.given_name,
            Person.family_name,
            Person.gender,
            Person.birth_date,
            Person.language,
            Person.lifecycle_status,
            Person.merged_into_id,
        ).where(Person.id.in_(ids))
    ).all()
    emails = _best(
        conn.execute(
            select(Email.person_id, Email.address, Email.address_key)
            .where(Email.person_id.in_(ids), Email.is_valid.is_(True))
            .order_by(Email.person_id, Email.is_primary.desc(), Email.id)
        ).all()
    )
    phones = _best(
        conn.execute(
            select(Phone.person_id, Phone.e164)
            .where(Phone.person_id.in_(ids), Phone.is_valid.is_(True), Phone.line_type == "mobile")
            .order_by(Phone.person_id, Phone.is_primary.desc(), Phone.id)
        ).all()
    )
    addresses = _best(
        conn.execute(
            select(
                Address.person_id,
                Address.line1,
                Address.line2,
                Address.postal_code,
                Address.locality,
                Address.region,
                Address.country,
            )
            .where(Address.person_id.in_(ids), Address.is_valid.is_(True))
            .order_by(Address.person_id, Address.is_primary.desc(), Address.id)
        ).all()
    )
    out: dict[int, Recipient] = {}
    for p in people:
        email, phone, addr = emails.get(p.id), phones.get(p.id), addresses.get(p.id)
        postal = (
            PostalLines(
                addr.line1, addr.line2, addr.postal_code, addr.locality, addr.region, addr.country
            )
            if addr is not None and (addr.line1 or addr.locality)
            else None
        )
        fields: dict[str, Any] = {
            "id": p.id,
            "salutation": p.salutation,
            "given_name": p.given_name,
            "family_name": p.family_name,
            "full_name": full_name(p.given_name, p.family_name),
            "email": email.address if email else None,
            "phone": phone.e164 if phone else None,
            "language": p.language,
            "gender": p.gender,
            "birth_date": p.birth_date,
            "lifecycle_status": p.lifecycle_status,
        }
        if postal is not None:
            fields.update(
                line1=postal.line1,
                line2=postal.line2,
                postal_code=postal.postal_code,
                locality=postal.locality,
                region=postal.region,
                country=postal.country,
            )
        out[p.id] = Recipient(
            person_id=p.id,
            fields=fields,
            language=p.language,
            merged_into_id=p.merged_into_id,
            email=email.address if email else None,
            email_key=email.address_key if email else None,
            phone=phone.e164 if phone else None,
            postal=postal,
        )
    return out
