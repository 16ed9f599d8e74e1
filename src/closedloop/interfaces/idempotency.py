"""Idempotency keys of the sync API (IETF draft "The Idempotency-Key HTTP Header Field").

A client sends ``Idempotency-Key: <unique value>`` with a POST. The first request with a key
records it (in a short transaction of its own, so that a concurrent retry sees it) as in
progress; its response is stored in the same transaction as its writes. Within the key's
lifetime (24 h by default), for the same user:

- the same key with the same request (method, path, query and body) replays the stored
  response (the API adds ``Idempotent-Replayed: true``);
- the same key with a different request is refused (422, ``idempotency-key-reused``);
- the same key while the first request still runs is refused (409, ``idempotency-key-in-use``).

A request that fails with an unexpected error releases its key, so it can be retried. A key
left in progress by a crashed process is taken over after :data:`STALE_AFTER`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.base import as_utc, utcnow
from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.interfaces.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from closedloop.interfaces.models import IdempotencyKey
from closedloop.interfaces.settings import get_interfaces_settings

STALE_AFTER = timedelta(minutes=5)
IN_PROGRESS, DONE = "in_progress", "done"


@dataclass(frozen=True)
class StoredResponse:
    """The response to replay: its status code and JSON body."""

    status: int
    body: str


def fingerprint(method: str, target: str, body: bytes) -> str:
    """SHA-256 of the request: method, path with query, and body."""
    h = hashlib.sha256(f"{method.upper()} {target}\n".encode())
    h.update(body)
    return h.hexdigest()


def check_key(key: str) -> str:
    """The key itself, or ValidationFailed (1–255 visible ASCII characters)."""
    if not 0 < len(key) <= 255 or not all(33 <= ord(c) < 127 for c in key):
        raise ValidationFailed(
            "The Idempotency-Key header must hold 1 to 255 visible ASCII characters "
            "(a UUID is a good choice).",
            errors=[{"field": "Idempotency-Key", "message": "1–255 visible ASCII", "in": "header"}],
        )
    return key


def begin(
    factory: sessionmaker[Session], owner: str, key: str, method: str, path: str, digest: str
) -> int | StoredResponse:
    """Claim ``key`` for this request (returns the key's row id: go ahead) or return the
    response to replay; raises IdempotencyKeyReused or IdempotencyKeyInUse."""
    check_key(key)
    ttl = timedelta(hours=get_interfaces_settings().idempotency_ttl_hours)
    for _ in range(5):
        now = utcnow()
        try:
            with unit_of_work(factory) as session:
                row = session.scalar(
                    select(IdempotencyKey).where(
                        IdempotencyKey.owner == owner, IdempotencyKey.key == key
                    )
                )
                if row is None:
                    row = IdempotencyKey(
                        owner=owner,
                        key=key,
                        method=method.upper(),
                        path=path[:300],
                        fingerprint=digest,
                        status=IN_PROGRESS,
                        locked_at=now,
                        expires_at=now + ttl,
                    )
                    session.add(row)
                    session.flush()
                    return row.id
                if as_utc(row.expires_at) <= now:
                    return _restart(session, row, method, path, digest, now, ttl)
                if row.fingerprint != digest:
                    raise IdempotencyKeyReused(
                        f"The Idempotency-Key {key!r} was already used with a different "
                        f"request ({row.method} {row.path}, another body); use a new key for "
                        "a new request."
                    )
                if row.status == IN_PROGRESS:
                    locked = as_utc(row.locked_at) if row.locked_at else now
                    if now - locked < STALE_AFTER:
                        raise IdempotencyKeyInUse(
                            f"A request with the Idempotency-Key {key!r} is still being "
                            "processed; retry later to get its response."
                        )
                    return _restart(session, row, method, path, digest, now, ttl)
                return StoredResponse(int(row.response_status or 200), row.response_body or "")
        except IntegrityError:
            continue  # another request inserted the same key meanwhile: read it
    raise IdempotencyKeyInUse(f"The Idempotency-Key {key!r} is contended; retry later.")


def _restart(
    session: Session,
    row: IdempotencyKey,
    method: str,
    path: str,
    digest: str,
    now: object,
    ttl: timedelta,
) -> int:
    """Take over an expired or abandoned key (only one of two racing requests can)."""
    done = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row.id, IdempotencyKey.locked_at == row.locked_at)
        .values(
            method=method.upper(),
            path=path[:300],
            fingerprint=digest,
            status=IN_PROGRESS,
            response_status=None,
            response_body=None,
            locked_at=now,
            expires_at=utcnow() + ttl,
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise IdempotencyKeyInUse(f"The Idempotency-Key {row.key!r} was just taken; retry later.")
    return row.id


def finish(session: Session, key_id: int, status: int, body: str) -> None:
    """Store the response of the request holding ``key_id`` (in the request's transaction,
    so it is kept exactly when the request's writes are)."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == key_id)
        .values(status=DONE, response_status=status, response_body=body, locked_at=None)
        .execution_options(synchronize_session=False)
    )


def release(factory: sessionmaker[Session], key_id: int) -> None:
    """Forget a key whose request failed, so that the client can retry it."""
    with unit_of_work(factory) as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id))


def purge_expired(session: Session) -> int:
    """Delete the expired keys; returns how many."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
