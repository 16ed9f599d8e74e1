"""Rate limits kept in the store, so every server process and worker counts the same hits.

A :class:`Limit` allows ``count`` hits per ``window`` for one key (a user, an address, a
client). Keys are stored as a keyed hash (HMAC with the secret key): the table never holds an
email address or an IP in the clear, and hits are deleted once they are a day old.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from closedloop.db.base import as_utc, utcnow
from closedloop.errors import TooManyRequests
from closedloop.settings import get_settings
from closedloop.users.models import RateLimitHit

#: Hits older than this are deleted whatever their window.
KEEP = timedelta(days=1)


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits of one key per ``window`` in ``bucket``."""

    bucket: str
    count: int
    window: timedelta


def _key(bucket: str, key: str) -> str:
    secret = get_settings().resolved_secret_key().encode()
    return hmac.new(secret, f"{bucket}\x1f{key}".encode(), hashlib.sha256).hexdigest()


def wait(session: Session, limit: Limit, key: str) -> timedelta | None:
    """How long ``key`` must wait before its next hit counts; None when it may go now."""
    since = utcnow() - limit.window
    hashed = _key(limit.bucket, key)
    stmt = select(func.count(), func.min(RateLimitHit.at)).where(
        RateLimitHit.bucket == limit.bucket,
        RateLimitHit.key_hash == hashed,
        RateLimitHit.at > since,
    )
    count, oldest = session.execute(stmt).one()
    if count < limit.count or oldest is None:
        return None
    return max(timedelta(seconds=1), as_utc(oldest) + limit.window - utcnow())


def hit(session: Session, limit: Limit, key: str) -> timedelta | None:
    """Count one hit of ``key`` unless it is over the limit; returns the wait when it is (the
    refused hit is not counted, so a client that waits gets through)."""
    waiting = wait(session, limit, key)
    if waiting is not None:
        return waiting
    session.execute(delete(RateLimitHit).where(RateLimitHit.at < utcnow() - KEEP))
    session.add(RateLimitHit(bucket=limit.bucket, key_hash=_key(limit.bucket, key)))
    session.flush()
    return None


def enforce(session: Session, limit: Limit, key: str, what: str) -> None:
    """Count one hit, or raise :class:`TooManyRequests` saying what was limited and when to
    try again."""
    waiting = hit(session, limit, key)
    if waiting is not None:
        seconds = math.ceil(waiting.total_seconds())
        raise TooManyRequests(
            f"Too many {what}: at most {limit.count} per {_span(limit.window)}. "
            f"Try again in {seconds} second(s).",
            retry_after=seconds,
        )


def _span(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)"
    if seconds % 60 == 0:
        return f"{seconds // 60} minute(s)"
    return f"{seconds} second(s)"
