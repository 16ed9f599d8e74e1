"""Use cases of consent: record a grant or withdrawal with proof, read current state and history.

The ledger is append-only; ``consent_current`` follows it and can be rebuilt from it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from closedloop.consent.models import ConsentCurrent, ConsentEvent, Suppression
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import ValidationFailed
from closedloop.hookspecs import pm
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose


def record_consent(
    session: Session,
    person_id: int,
    channel: Channel,
    purpose: Purpose,
    state: ConsentState,
    *,
    method: ConsentMethod,
    proof_text: str | None = None,
    proof_version: str | None = None,
    source_system: str | None = None,
    occurred_at: datetime | None = None,
    ip_address: str | None = None,
    recorded_by: str | None = None,
) -> ConsentEvent:
    """Append a grant or withdrawal to the ledger and update the current state.

    A grant needs its proof (the text the person agreed to). An event older than the current
    state is kept in the ledger but does not change the current state.
    """
    if state == ConsentState.GRANTED and not proof_text:
        raise ValidationFailed(
            "A consent grant needs its proof.",
            errors=[{"field": "proof_text", "message": "the text the person agreed to"}],
        )
    event = ConsentEvent(
        person_id=person_id,
        channel=channel.value,
        purpose=purpose.value,
        state=state.value,
        method=method.value,
        proof_text=proof_text,
        proof_version=proof_version,
        source_system=source_system,
        occurred_at=occurred_at or utcnow(),
        ip_address=ip_address,
        recorded_by=recorded_by,
    )
    session.add(event)
    session.flush()
    current = session.get(ConsentCurrent, (person_id, channel.value, purpose.value))
    if current is None:
        session.add(
            ConsentCurrent(
                person_id=person_id,
                channel=channel.value,
                purpose=purpose.value,
                state=state.value,
                event_id=event.id,
                since=event.occurred_at,
            )
        )
    elif as_utc(current.since) <= as_utc(event.occurred_at):
        current.state, current.event_id, current.since = state.value, event.id, event.occurred_at
    session.flush()
    pm.hook.consent_changed(session=session, person_id=person_id, event=event)
    return event


def current_consents(session: Session, person_id: int) -> list[ConsentCurrent]:
    """The person's current state per channel and purpose."""
    stmt = (
        select(ConsentCurrent)
        .where(ConsentCurrent.person_id == person_id)
        .order_by(ConsentCurrent.channel, ConsentCurrent.purpose)
    )
    return list(session.scalars(stmt))


def consent_history(session: Session, person_id: int) -> list[ConsentEvent]:
    """Every consent event of the person, newest first."""
    stmt = (
        select(ConsentEvent)
        .where(ConsentEvent.person_id == person_id)
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())
    )
    return list(session.scalars(stmt))


def suppressions_for(session: Session, person_id: int) -> list[Suppression]:
    """Suppression entries that name the person."""
    stmt = select(Suppression).where(Suppression.person_id == person_id)
    return list(session.scalars(stmt.order_by(Suppression.created_at)))


def rebuild_current(session: Session, person_id: int) -> None:
    """Recompute the person's current consent from the ledger (latest event wins)."""
    session.execute(delete(ConsentCurrent).where(ConsentCurrent.person_id == person_id))
    latest: dict[tuple[str, str], ConsentEvent] = {}
    for event in reversed(consent_history(session, person_id)):
        latest[(event.channel, event.purpose)] = event
    for (channel, purpose), event in latest.items():
        session.add(
            ConsentCurrent(
                person_id=person_id,
                channel=channel,
                purpose=purpose,
                state=event.state,
                event_id=event.id,
                since=event.occurred_at,
            )
        )
    session.flush()
