"""Users, API tokens and the audit trail on a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.errors import AuthenticationFailed, Conflict, NotFound, ValidationFailed
from closedloop.users import service
from closedloop.users.models import ApiToken, AuditEvent
from closedloop.vocab import Role


def test_create_user_checks_name_password_and_uniqueness(session: Session) -> None:
    with pytest.raises(ValidationFailed) as info:
        service.create_user(session, " ", "short", Role.ADMIN)
    assert {e["field"] for e in info.value.errors} == {"username", "password"}
    service.create_user(session, "ioana", "a-long-password", Role.AGENT, full_name="Ioana Pop")
    session.commit()
    with pytest.raises(Conflict, match="ioana"):
        service.create_user(session, "ioana", "another-password", Role.ADMIN)


def test_token_round_trip_and_revocation(session: Session) -> None:
    service.create_user(session, "li", "a-long-password", Role.ANALYST)
    first = service.create_api_token(session, "li", "erp")
    second = service.create_api_token(session, "li", "shop")
    session.commit()
    assert first != second and first.startswith("cl_")
    stored = list(session.scalars(select(ApiToken.token_hash)))
    assert first not in stored and second not in stored  # only hashes are kept
    assert service.user_for_token(session, first).username == "li"

    assert service.revoke_api_tokens(session, "li", "erp") == 1
    session.commit()
    with pytest.raises(AuthenticationFailed):
        service.user_for_token(session, first)
    assert service.user_for_token(session, second).username == "li"
    assert service.revoke_api_tokens(session, "li") == 1
    assert service.revoke_api_tokens(session, "li") == 0
    with pytest.raises(AuthenticationFailed):
        service.user_for_token(session, second)
    with pytest.raises(NotFound):
        service.revoke_api_tokens(session, "nobody")


def test_expired_token_and_inactive_user_are_refused(session: Session) -> None:
    user = service.create_user(session, "old", "a-long-password", Role.ADMIN)
    expired = service.create_api_token(
        session, "old", "x", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    valid = service.create_api_token(session, "old", "y")
    session.commit()
    with pytest.raises(AuthenticationFailed):
        service.user_for_token(session, expired)
    assert service.user_for_token(session, valid).id == user.id
    user.is_active = False
    session.commit()
    with pytest.raises(AuthenticationFailed):
        service.user_for_token(session, valid)


def test_audit_records_who_saw_what(session: Session) -> None:
    user = service.create_user(session, "auditor", "a-long-password", Role.ADMIN)
    service.audit(session, user, "view", "person", 42, channel="api", detail={"why": "call"})
    service.audit(session, None, "search", "person", channel="cli")
    session.commit()
    events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [(e.user_id, e.action, e.entity_id, e.channel) for e in events] == [
        (user.id, "view", "42", "api"),
        (None, "search", None, "cli"),
    ]
    assert events[0].detail == {"why": "call"}


def test_passwords_use_the_configured_argon2_profile_and_are_rehashed_at_login(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from closedloop.settings import get_settings

    # The suite hashes with the weak test profile; a made account keeps working when the
    # production default comes back, and its next login rehashes it with that profile.
    service.create_user(session, "ana", "a-long-password", Role.MARKETER)
    session.commit()
    user = service.authenticate(session, "ana", "a-long-password")
    assert user.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    monkeypatch.setenv("CLOSEDLOOP_PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY")
    get_settings.cache_clear()
    try:
        user = service.authenticate(session, "ana", "a-long-password")
        assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        with pytest.raises(AuthenticationFailed):
            service.authenticate(session, "ana", "a-wrong-password")
    finally:
        get_settings.cache_clear()  # monkeypatch puts the suite's profile back after the test
