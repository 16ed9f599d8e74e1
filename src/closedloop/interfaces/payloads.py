"""The ``data`` of each webhook event, read in bulk (only when an endpoint subscribes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Email, Person, Phone

_PERSON = (
    Person.id,
    Person.version,
    Person.source_system,
    Person.external_id,
    Person.given_name,
    Person.family_name,
    Person.lifecycle_status,
    Person.language,
    Person.merged_into_id,
    Person.updated_at,
)
CHUNK = 1000


def persons(session: Session, ids: list[int]) -> Iterator[dict[str, Any]]:
    """``person.created`` / ``person.updated`` data: the person's key fields, emails and
    phones, in the order of ``ids``."""
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        rows = {r[0]: r for r in session.execute(select(*_PERSON).where(Person.id.in_(part)))}
        emails: dict[int, list[str]] = {}
        for owner, address in session.execute(
            select(Email.person_id, Email.address)
            .where(Email.person_id.in_(part))
            .order_by(Email.is_primary.desc(), Email.id)
        ):
            emails.setdefault(int(owner or 0), []).append(address)
        phones: dict[int, list[str]] = {}
        for owner, e164 in session.execute(
            select(Phone.person_id, Phone.e164)
            .where(Phone.person_id.in_(part))
            .order_by(Phone.is_primary.desc(), Phone.id)
        ):
            phones.setdefault(int(owner or 0), []).append(e164)
        for pid in part:
            r = rows.get(pid)
            if r is None:
                continue
            yield {
                "person_id": r[0],
                "version": r[1],
                "source_system": r[2],
                "external_id": r[3],
                "given_name": r[4],
                "family_name": r[5],
                "lifecycle_status": r[6],
                "language": r[7],
                "merged_into_id": r[8],
                "emails": emails.get(pid, []),
                "phones": phones.get(pid, []),
            }


def consent(person_id: int, event: Any) -> dict[str, Any]:
    """``consent.changed`` data from a consent ledger event."""
    return {
        "person_id": person_id,
        "consent_event_id": getattr(event, "id", None),
        "channel": getattr(event, "channel", None),
        "purpose": getattr(event, "purpose", None),
        "state": getattr(event, "state", None),
        "method": getattr(event, "method", None),
        "source_system": getattr(event, "source_system", None),
        "occurred_at": getattr(event, "occurred_at", None),
    }


#: What a response synced as a shop or ERP event adds (``response_id`` is then null).
_EVENT_NAMES = ("interface_event_id", "external_id", "event_kind", "currency", "store")


def response(person_id: int | None, record: Any) -> dict[str, Any]:
    """``response.recorded`` data from a response (any object with the usual attributes);
    a synced event (:class:`closedloop.interfaces.event_responses.EventResponse`) also
    gives its event id, external id, event kind, currency and store."""
    names = (
        "id",
        "kind",
        "campaign_id",
        "communication_id",
        "order_id",
        "amount",
        "occurred_at",
        "source_system",
    )
    data: dict[str, Any] = {"person_id": person_id}
    for name in names:
        value = getattr(record, name, None)
        data["response_id" if name == "id" else name] = (
            str(value) if name == "amount" and value is not None else value
        )
    for name in _EVENT_NAMES:
        if hasattr(record, name):
            data[name] = getattr(record, name)
    return data
