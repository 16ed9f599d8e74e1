"""The preference centre (M4): a person sees and changes their own data and consents.

Every change of a consent is a ledger event (method ``preference_centre``, or
``unsubscribe_link`` for the one-click unsubscribe) whose proof says what was shown, what was
clicked, when and from which address. Person data changes go through the contacts service
(so ``person_saved`` fires); a new email address counts only once its owner confirms it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.consent import messages
from closedloop.consent.models import ConsentCurrent, ConsentEvent, SignupForm
from closedloop.consent.service import current_consents, record_consent
from closedloop.contacts import service as contacts
from closedloop.contacts.models import Person
from closedloop.contacts.normalize import clean_text, normalize_email
from closedloop.contacts.schemas import EmailCreate, PersonUpdate, PhoneCreate
from closedloop.contacts.service import golden_record
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import ValidationFailed
from closedloop.vocab import Channel, ConsentMethod, ConsentState, ContactKind, Purpose

Key = tuple[str, str]


@dataclass(frozen=True)
class Grid:
    """What the preference centre offers a person: channels × purposes, and their state."""

    channels: list[str]
    purposes: list[str]
    granted: set[Key]


def preference_grid(session: Session, person_id: int) -> Grid:
    """The channels and purposes offered by active forms or already in the person's record."""
    current = current_consents(session, person_id)
    channels = {c.channel for c in current}
    purposes = {c.purpose for c in current}
    for form in session.scalars(select(SignupForm).where(SignupForm.is_active.is_(True))):
        channels.update(form.channels)
        purposes.update(t["purpose"] for t in form.topics)
    channels.add(Channel.EMAIL.value)
    if not purposes:
        purposes = {p.value for p in Purpose}
    return Grid(
        channels=[c.value for c in Channel if c.value in channels],
        purposes=[p.value for p in Purpose if p.value in purposes],
        granted={(c.channel, c.purpose) for c in current if c.state == ConsentState.GRANTED},
    )


def proof(statement: str, action: str, when: datetime, ip: str | None) -> str:
    """The proof of a preference-centre event: the text shown, the act, time and address."""
    return f"{statement}\n-- {action} at {as_utc(when).isoformat()} from {ip or 'unknown IP'}."


def set_preferences(
    session: Session,
    person_id: int,
    wanted: Iterable[Key],
    shown: Iterable[Key],
    *,
    statements: dict[Key, str],
    ip_address: str | None = None,
    now: datetime | None = None,
) -> list[ConsentEvent]:
    """Make the person's consents among ``shown`` exactly ``wanted``; one event per change.

    ``statements`` holds the text the person saw next to each box (the proof of a grant).
    """
    when = now or utcnow()
    person = golden_record(session, person_id)
    current = {
        (c.channel, c.purpose): c.state
        for c in session.scalars(
            select(ConsentCurrent).where(ConsentCurrent.person_id == person.id)
        )
    }
    wanted_set = set(wanted)
    events = []
    for key in dict.fromkeys(shown):
        channel, purpose = key
        is_granted = current.get(key) == ConsentState.GRANTED
        if (key in wanted_set) == is_granted:
            continue
        state = ConsentState.GRANTED if key in wanted_set else ConsentState.WITHDRAWN
        verb = "ticked" if state == ConsentState.GRANTED else "unticked"
        statement = statements.get(key, f"{channel} / {purpose}")
        events.append(
            record_consent(
                session,
                person.id,
                Channel(channel),
                Purpose(purpose),
                state,
                method=ConsentMethod.PREFERENCE_CENTRE,
                proof_text=proof(statement, f"{verb} in the preference centre", when, ip_address),
                source_system="preference_centre",
                occurred_at=when,
                ip_address=ip_address,
            )
        )
    return events


def withdraw_all(
    session: Session,
    person_id: int,
    *,
    method: ConsentMethod,
    action: str,
    channel: Channel | None = None,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> list[ConsentEvent]:
    """Withdraw every current grant of the person (on ``channel`` only when given)."""
    when = now or utcnow()
    person = golden_record(session, person_id)
    events = []
    for row in current_consents(session, person.id):
        if row.state != ConsentState.GRANTED or (channel and row.channel != channel.value):
            continue
        events.append(
            record_consent(
                session,
                person.id,
                Channel(row.channel),
                Purpose(row.purpose),
                ConsentState.WITHDRAWN,
                method=method,
                proof_text=proof(
                    f"Withdraw {row.channel} / {row.purpose}", action, when, ip_address
                ),
                source_system="preference_centre",
                occurred_at=when,
                ip_address=ip_address,
            )
        )
    return events


def primary(points: list[Any]) -> Any:
    """The primary contact point of a list, or None."""
    return next((p for p in points if p.is_primary), points[0] if points else None)


def update_details(
    session: Session,
    person_id: int,
    *,
    version: int,
    given_name: str,
    family_name: str,
    phone: str,
) -> Person:
    """Change the person's name and primary phone (other phones are kept); 409 when the
    record changed since ``version`` was read."""
    person = golden_record(session, person_id)
    others = [p for p in person.phones if p is not primary(person.phones)]
    phones = [PhoneCreate(number=p.e164, kind=ContactKind(p.kind)) for p in others]
    if phone.strip():
        phones.insert(0, PhoneCreate(number=phone.strip(), is_primary=True))
    data = PersonUpdate(
        version=version,
        given_name=clean_text(given_name),
        family_name=clean_text(family_name),
        phones=phones,
    )
    try:
        return contacts.update_person(session, person.id, data)
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.detail, errors=[{"field": "phone", "message": e["message"]} for e in exc.errors]
        ) from exc


def request_email_change(
    session: Session, person_id: int, address: str, *, locale: str | None = None
) -> bool:
    """Send a confirmation link to a new address; the stored one stays until it is used.
    Returns False when ``address`` already is the person's primary address."""
    try:
        normalized, key = normalize_email(address)
    except ValueError as exc:
        raise ValidationFailed(
            "The new email address is not valid.",
            errors=[{"field": "email", "message": str(exc)}],
        ) from exc
    person = golden_record(session, person_id)
    current = primary(person.emails)
    if current is not None and current.address_key == key:
        return False
    messages.queue_email_change(session, person.id, normalized, locale or person.language)
    return True


def confirm_email_change(session: Session, person_id: int, address: str) -> Person:
    """Make the confirmed ``address`` the person's primary email (it replaces the previous
    primary one); confirming again changes nothing."""
    person = golden_record(session, person_id)
    normalized, key = normalize_email(address)
    current = primary(person.emails)
    if current is not None and current.address_key == key:
        return person
    emails = [EmailCreate(address=normalized, is_primary=True)]
    emails += [
        EmailCreate(address=e.address, kind=ContactKind(e.kind))
        for e in person.emails
        if e is not current and e.address_key != key
    ]
    return contacts.update_person(
        session, person.id, PersonUpdate(version=person.version, emails=emails)
    )
