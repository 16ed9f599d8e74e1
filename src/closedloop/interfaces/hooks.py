"""Plugin hooks of the interfaces domain: business events become webhook deliveries (in the
writer's transaction) and the ``webhooks.deliver`` job sends them.

Each listener first asks the outbox whether any endpoint subscribes (a cached lookup); when
none does it returns at once, so bulk writers pay nothing for webhooks nobody wants.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.hookspecs import hookimpl
from closedloop.interfaces import idempotency, outbox, payloads
from closedloop.interfaces.delivery import deliver
from closedloop.jobs.service import JobContext

PURGE_KEYS = "interfaces.purge_idempotency_keys"


def purge_idempotency_keys(ctx: JobContext) -> dict[str, Any]:
    """Delete the idempotency keys whose replay window has passed."""
    with unit_of_work(ctx.factory) as session:
        return {"purged": idempotency.purge_expired(session)}


@hookimpl
def job_handlers() -> dict[str, Any]:
    """The delivery job of webhook endpoints and the purge of expired idempotency keys."""
    return {outbox.DELIVER: deliver, PURGE_KEYS: purge_idempotency_keys}


@hookimpl
def person_saved(session: Session, person_id: int, created: bool) -> None:
    """``person.created`` or ``person.updated`` for one saved person."""
    kind = "person.created" if created else "person.updated"
    outbox.emit(session, kind, lambda: payloads.persons(session, [person_id]))


@hookimpl
def persons_imported(session: Session, person_ids: list[int], batch_id: int | None) -> None:
    """``person.created`` / ``person.updated`` for persons written in bulk: one event per
    person, written with one statement per event type (nothing when nobody subscribes)."""
    wants_new = bool(outbox.subscribers(session, "person.created"))
    wants_old = bool(outbox.subscribers(session, "person.updated"))
    if not (wants_new or wants_old) or not person_ids:
        return
    created: set[int] = set()
    if batch_id is not None:
        for start in range(0, len(person_ids), payloads.CHUNK):
            part = person_ids[start : start + payloads.CHUNK]
            created.update(
                session.scalars(
                    select(Person.id).where(Person.id.in_(part), Person.import_batch_id == batch_id)
                )
            )
    new = [i for i in person_ids if i in created]
    old = [i for i in person_ids if i not in created]
    if new:
        outbox.emit(session, "person.created", lambda: payloads.persons(session, new))
    if old:
        outbox.emit(session, "person.updated", lambda: payloads.persons(session, old))


@hookimpl
def person_merged(
    session: Session, golden_id: int, source_id: int, event: Any
) -> dict[str, Any] | None:
    """``person.merged``: the source record now lives on in the golden one."""
    data = {
        "golden_id": golden_id,
        "source_id": source_id,
        "merge_event_id": getattr(event, "id", None),
    }
    outbox.emit(session, "person.merged", lambda: [data])
    return None


@hookimpl
def person_unmerged(session: Session, golden_id: int, source_id: int, event: Any) -> None:
    """``person.unmerged``: the merge ``event`` was undone, the source record stands alone
    again (the same data as ``person.merged``)."""
    data = {
        "golden_id": golden_id,
        "source_id": source_id,
        "merge_event_id": getattr(event, "id", None),
    }
    outbox.emit(session, "person.unmerged", lambda: [data])


@hookimpl
def consent_changed(session: Session, person_id: int, event: Any) -> None:
    """``consent.changed`` for a consent ledger event."""
    outbox.emit(session, "consent.changed", lambda: [payloads.consent(person_id, event)])


@hookimpl
def response_recorded(session: Session, person_id: int | None, response: Any) -> None:
    """``response.recorded`` for a response (open, click, purchase…)."""
    outbox.emit(session, "response.recorded", lambda: [payloads.response(person_id, response)])
