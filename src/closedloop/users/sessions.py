"""Server-side web sessions: the cookie carries only a random key, the store keeps its hash.

A session ends at logout, after ``CLOSEDLOOP_SESSION_MAX_AGE_SECONDS`` from its start, and
for every session of a user when their password, role or active flag changes or an admin
signs them out everywhere (:func:`revoke_user_sessions`). A revoked or expired key opens
nothing: the visitor is anonymous again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from closedloop.db.base import as_utc, utcnow
from closedloop.users.models import WebSession

#: The last-seen time is written at most this often (not on every request).
SEEN_EVERY = timedelta(minutes=1)
#: Expired and revoked sessions are deleted this long after they ended.
KEEP_ENDED = timedelta(days=7)


def key_hash(key: str) -> str:
    """The stored form of a session key (SHA-256: the key itself is never stored)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random session key (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass
class Loaded:
    """A valid session as a request sees it."""

    id: int
    user_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


def load(session: Session, key: str) -> Loaded | None:
    """The live session of ``key``; None when unknown, revoked or expired."""
    if not key or len(key) > 200:
        return None
    now = utcnow()
    row = session.scalar(
        select(WebSession).where(
            WebSession.key_hash == key_hash(key),
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
    )
    if row is None:
        return None
    seen = row.last_seen_at
    if seen is None or now - as_utc(seen) > SEEN_EVERY:
        row.last_seen_at = now
    return Loaded(row.id, row.user_id, dict(row.data or {}))


def create(
    session: Session,
    data: dict[str, Any],
    *,
    user_id: int | None,
    max_age: timedelta,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> str:
    """Store a new session holding ``data``; returns its key (for the cookie, shown once).
    Sessions that ended more than :data:`KEEP_ENDED` ago are deleted on the way."""
    purge(session)
    key = new_key()
    now = utcnow()
    session.add(
        WebSession(
            key_hash=key_hash(key),
            user_id=user_id,
            data=data,
            last_seen_at=now,
            expires_at=now + max_age,
            ip_address=(ip_address or None) and ip_address[:64],
            user_agent=(user_agent or None) and user_agent[:300],
        )
    )
    session.flush()
    return key


def save_data(session: Session, session_id: int, data: dict[str, Any]) -> None:
    """Replace the data of a live session."""
    session.execute(update(WebSession).where(WebSession.id == session_id).values(data=data))


def revoke(session: Session, session_id: int, reason: str) -> None:
    """End one session (logout, or a new login in the same browser)."""
    session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), expires_at=utcnow(), revoked_reason=reason[:32], data={})
    )


def revoke_user_sessions(session: Session, user_id: int, reason: str) -> int:
    """End every live session of a user; returns how many were live."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .where(WebSession.expires_at > utcnow())
        .values(revoked_at=utcnow(), expires_at=utcnow(), revoked_reason=reason[:32], data={})
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def live_sessions(session: Session, user_id: int) -> list[WebSession]:
    """The user's live sessions, newest first (for the admin's user page)."""
    return list(
        session.scalars(
            select(WebSession)
            .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
            .where(WebSession.expires_at > utcnow())
            .order_by(WebSession.id.desc())
        )
    )


def purge(session: Session) -> int:
    """Delete sessions that ended (expired or revoked: both set ``expires_at``) more than
    :data:`KEEP_ENDED` ago; returns how many."""
    cutoff = utcnow() - KEEP_ENDED
    result = session.execute(delete(WebSession).where(WebSession.expires_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
