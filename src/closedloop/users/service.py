"""Use cases of users: accounts, password login, API tokens, audit trail."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.db.base import as_utc, utcnow
from closedloop.errors import AuthenticationFailed, Conflict, NotFound, ValidationFailed
from closedloop.settings import get_settings
from closedloop.users import sessions
from closedloop.users.models import ApiToken, AuditEvent, User
from closedloop.vocab import Role


def _hasher() -> PasswordHasher:
    """The argon2id hasher of the ``password_hash_profile`` setting."""
    return _hasher_for(get_settings().password_hash_profile)


@functools.cache
def _hasher_for(profile: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(getattr(profiles, profile))


MIN_PASSWORD_LENGTH = 10


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both paths take the same time (made
    on first use, not at import: a hash costs a tenth of a second)."""
    return _hasher().hash("closedloop-dummy-password")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher().hash(password)


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    *,
    full_name: str | None = None,
    email: str | None = None,
    locale: str | None = None,
) -> User:
    """Create a user; refuses a taken username or a password shorter than 10 characters."""
    username = username.strip()
    errors = []
    if not username or len(username) > 64:
        errors.append({"field": "username", "message": "must be 1 to 64 characters"})
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(
            {"field": "password", "message": f"must be at least {MIN_PASSWORD_LENGTH} characters"}
        )
    if errors:
        raise ValidationFailed("The user cannot be created.", errors=errors)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"User {username!r} already exists.")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        full_name=full_name,
        email=email,
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """Replace a user's password; every web session of theirs ends."""
    user = get_user(session, username)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "The password is too short.",
            errors=[{"field": "password", "message": f"at least {MIN_PASSWORD_LENGTH} characters"}],
        )
    user.password_hash = hash_password(password)
    sessions.revoke_user_sessions(session, user.id, "password changed")
    return user


def set_role(session: Session, username: str, role: Role) -> User:
    """Give a user another role; their web sessions end, so the new rights apply at once
    (API tokens are checked against the role on every request)."""
    user = get_user(session, username)
    if user.role != role.value:
        _keep_an_admin(session, user, "change the role of")
        user.role = role.value
        sessions.revoke_user_sessions(session, user.id, "role changed")
    return user


def set_active(session: Session, username: str, active: bool) -> User:
    """Deactivate (no login, no token, sessions ended) or reactivate a user."""
    user = get_user(session, username)
    if not active:
        _keep_an_admin(session, user, "deactivate")
        sessions.revoke_user_sessions(session, user.id, "deactivated")
    user.is_active = active
    return user


def sign_out_everywhere(session: Session, username: str) -> int:
    """End every web session of a user (their API tokens stay: revoke those separately);
    returns how many were live."""
    return sessions.revoke_user_sessions(session, get_user(session, username).id, "signed out")


def _keep_an_admin(session: Session, user: User, what: str) -> None:
    """Refuse to take away the last active admin (nobody could manage users any more)."""
    if user.role != Role.ADMIN.value or not user.is_active:
        return
    admins = session.scalars(
        select(User.id).where(User.role == Role.ADMIN.value, User.is_active.is_(True))
    ).all()
    if len(admins) <= 1:
        raise Conflict(f"Cannot {what} {user.username!r}: they are the last active admin.")


def get_user(session: Session, username: str) -> User:
    """The user with this username; NotFound otherwise."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"User {username!r} does not exist.")
    return user


def get_user_by_id(session: Session, user_id: int) -> User:
    """The user ``user_id``; NotFound otherwise."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials. The error never says which part was wrong."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    hashed = user.password_hash if user is not None else _dummy_hash()
    ok = False
    with contextlib.suppress(VerificationError, InvalidHashError):
        ok = _hasher().verify(hashed, password)
    if not ok or user is None or not user.is_active:
        raise AuthenticationFailed("Unknown user or wrong password.")
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_LIMIT = 5


def login_wait(session: Session, username: str, address: str | None) -> timedelta | None:
    """How long ``username`` must wait before trying again from ``address``: None when fewer
    than :data:`LOGIN_LIMIT` logins failed from there within :data:`LOGIN_WINDOW` (counted
    from the audit log, so every server process sees the same count)."""
    since = utcnow() - LOGIN_WINDOW
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.detail)
        .where(
            AuditEvent.entity == "user",
            AuditEvent.entity_id == username[:64],
            AuditEvent.action == "login_failed",
            AuditEvent.at >= since,
        )
        .order_by(AuditEvent.at.desc())
        .limit(200)
    ).all()
    failures = [as_utc(at) for at, detail in rows if (detail or {}).get("address") == address]
    if len(failures) < LOGIN_LIMIT:
        return None
    return failures[LOGIN_LIMIT - 1] + LOGIN_WINDOW - utcnow()


def record_login_failure(session: Session, username: str, address: str | None) -> None:
    """Audit a failed login (the throttle of :func:`login_wait` counts these)."""
    audit(
        session,
        None,
        "login_failed",
        "user",
        username[:64],
        channel="web",
        detail={"username": username, "address": address},
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(
    session: Session, username: str, name: str, expires_at: datetime | None = None
) -> str:
    """Create an API token for ``username``; the plain token is returned once, never stored."""
    user = get_user(session, username)
    token = "cl_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token), expires_at=expires_at)
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User:
    """The active user owning this unrevoked, unexpired token; AuthenticationFailed otherwise."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise AuthenticationFailed("Invalid or revoked API token.")
    if row.expires_at is not None and as_utc(row.expires_at) < now:
        raise AuthenticationFailed("Invalid or revoked API token.")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise AuthenticationFailed("Invalid or revoked API token.")
    # Write the last-use time at most once a minute, not on every request.
    if row.last_used_at is None or now - as_utc(row.last_used_at) > timedelta(minutes=1):
        row.last_used_at = now
    return user


def audit(
    session: Session,
    user: User | None,
    action: str,
    entity: str,
    entity_id: object = None,
    *,
    channel: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record that ``user`` did ``action`` on an entity (viewed, created, updated, deleted…)."""
    session.add(
        AuditEvent(
            user_id=user.id if user else None,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            channel=channel,
            detail=detail,
        )
    )


def list_api_tokens(session: Session, user_id: int | None = None) -> list[tuple[ApiToken, str]]:
    """Every API token (of one user when given) with its owner's username, newest first;
    revoked and expired tokens included (they stay listed for the audit trail)."""
    stmt = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return [(t, name) for t, name in session.execute(stmt.order_by(ApiToken.id.desc())).all()]


def revoke_api_token(session: Session, token_id: int) -> ApiToken:
    """Revoke one token (revoking it twice is harmless); NotFound when it does not exist."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"API token {token_id} does not exist.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    session.flush()
    return token


def revoke_api_tokens(session: Session, username: str, name: str | None = None) -> int:
    """Revoke the user's active API tokens (only those called ``name`` when given); returns
    how many were revoked. Revoked tokens stay listed for the audit trail."""
    user = get_user(session, username)
    stmt = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if name is not None:
        stmt = stmt.where(ApiToken.name == name)
    tokens = list(session.scalars(stmt))
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
    session.flush()
    return len(tokens)
