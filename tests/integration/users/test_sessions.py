"""Server-side sessions: only the key's hash is stored; ended sessions are deleted a week on."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.base import utcnow
from closedloop.db.uow import unit_of_work
from closedloop.users import service
from closedloop.users import sessions as store
from closedloop.users.models import WebSession


def test_a_session_is_found_by_its_key_only_while_live(
    factory: sessionmaker[Session], make_user: Callable[..., str]
) -> None:
    make_user("ada", "analyst")
    with unit_of_work(factory) as s:
        uid = service.get_user(s, "ada").id
        key = store.create(s, {"csrf": "t"}, user_id=uid, max_age=timedelta(hours=1))
    with unit_of_work(factory) as s:
        row = s.scalars(select(WebSession)).one()
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest() != key
        loaded = store.load(s, key)
        assert loaded is not None and loaded.user_id == uid and loaded.data == {"csrf": "t"}
        assert store.load(s, key + "x") is None
        assert store.revoke_user_sessions(s, uid, "test") == 1
    with unit_of_work(factory) as s:
        assert store.load(s, key) is None


def test_ended_sessions_are_deleted_a_week_later(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        old = store.create(s, {"a": 1}, user_id=None, max_age=timedelta(hours=1))
        store.create(s, {"b": 2}, user_id=None, max_age=timedelta(hours=1))
        s.execute(
            update(WebSession)
            .where(WebSession.key_hash == store.key_hash(old))
            .values(expires_at=utcnow() - store.KEEP_ENDED - timedelta(minutes=1))
        )
    with unit_of_work(factory) as s:
        store.create(s, {"c": 3}, user_id=None, max_age=timedelta(hours=1))
    with factory() as s:
        assert sorted(next(iter(r.data)) for r in s.scalars(select(WebSession))) == ["b", "c"]
