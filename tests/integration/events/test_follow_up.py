"""Follow-ups target an event's guests by state: the segment rule ``{"event": …}``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.events.setup import end_event, invited

from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.events.models import Event, EventGuest
from closedloop.events.rsvp import answer, check_in
from closedloop.events.service import get_event
from closedloop.segments import rule_member_ids
from closedloop.segments.tables import DECLARED, schema_of


def _who(s: Session, status: str) -> list[int]:
    return sorted(rule_member_ids(s, {"event": {"code": "GALA", "status": status}}))


def test_rules_pick_invited_answered_attended_and_no_shows(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 4, capacity=10)
        p = made.person_ids
        answer(s, made.messages[0], "yes")
        answer(s, made.messages[1], "yes")
        answer(s, made.messages[2], "no")
        check_in(s, get_event(s, "GALA"), person_id=p[0])
    with factory() as s:
        assert _who(s, "invited") == sorted(p)
        assert _who(s, "answered") == sorted(p[:3])
        assert _who(s, "yes") == sorted(p[:2])
        assert _who(s, "no") == [p[2]]
        assert _who(s, "attended") == [p[0]]
        assert _who(s, "no_show") == []  # not over yet
    with unit_of_work(factory) as s:
        end_event(s, made.event_id)
    with factory() as s:
        assert _who(s, "no_show") == [p[1]]
        assert sorted(
            rule_member_ids(s, {"not": {"event": {"code": "GALA", "status": "answered"}}})
        ) == [p[3]]


def test_an_unknown_event_is_named(factory: sessionmaker[Session]) -> None:
    with factory() as s, pytest.raises(ValidationFailed) as caught:
        rule_member_ids(s, {"event": {"code": "NOPE", "status": "yes"}})
    assert "NOPE" in str(caught.value.errors)


def test_declared_event_columns_match_the_models() -> None:
    for model in (Event, EventGuest):
        real = schema_of(model.__table__)  # type: ignore[arg-type]
        for column, kind in DECLARED[model.__tablename__].items():
            assert real[column] == kind, (model.__tablename__, column)
