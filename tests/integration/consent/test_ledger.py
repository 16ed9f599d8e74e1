"""The consent ledger is append-only; the current state follows the latest event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.consent import service
from closedloop.consent.models import ConsentEvent
from closedloop.contacts.models import Person
from closedloop.errors import ValidationFailed
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _person(session: Session) -> int:
    person = Person(family_name="Consent")
    session.add(person)
    session.flush()
    return person.id


def _record(session: Session, pid: int, state: ConsentState, at: datetime) -> None:
    service.record_consent(
        session,
        pid,
        Channel.EMAIL,
        Purpose.NEWSLETTER,
        state,
        method=ConsentMethod.WEB_FORM,
        proof_text="I want the newsletter" if state == ConsentState.GRANTED else None,
        proof_version="v1",
        occurred_at=at,
    )


def test_withdrawal_after_grant_wins_and_history_is_kept(session: Session) -> None:
    pid = _person(session)
    _record(session, pid, ConsentState.GRANTED, T0)
    _record(session, pid, ConsentState.WITHDRAWN, T0 + timedelta(days=3))
    session.commit()
    (current,) = service.current_consents(session, pid)
    assert current.state == "withdrawn"
    history = service.consent_history(session, pid)
    assert [e.state for e in history] == ["withdrawn", "granted"]
    assert history[1].proof_text == "I want the newsletter"


def test_late_arriving_older_event_does_not_override(session: Session) -> None:
    pid = _person(session)
    _record(session, pid, ConsentState.WITHDRAWN, T0 + timedelta(days=10))
    _record(session, pid, ConsentState.GRANTED, T0)
    session.commit()
    assert service.current_consents(session, pid)[0].state == "withdrawn"
    count = session.scalar(select(func.count()).select_from(ConsentEvent))
    assert count == 2


def test_grant_without_proof_is_refused(session: Session) -> None:
    pid = _person(session)
    with pytest.raises(ValidationFailed) as info:
        service.record_consent(
            session,
            pid,
            Channel.SMS,
            Purpose.MARKETING,
            ConsentState.GRANTED,
            method=ConsentMethod.API,
        )
    assert info.value.errors[0]["field"] == "proof_text"


def test_rebuild_current_matches_ledger(session: Session) -> None:
    pid = _person(session)
    _record(session, pid, ConsentState.GRANTED, T0)
    _record(session, pid, ConsentState.WITHDRAWN, T0 + timedelta(days=1))
    _record(session, pid, ConsentState.GRANTED, T0 + timedelta(days=2))
    before = [(c.channel, c.purpose, c.state) for c in service.current_consents(session, pid)]
    service.rebuild_current(session, pid)
    session.commit()
    after = [(c.channel, c.purpose, c.state) for c in service.current_consents(session, pid)]
    assert before == after == [("email", "newsletter", "granted")]
