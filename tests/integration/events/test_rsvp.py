"""Answers and check-ins: stored as responses against the invitation, capacity never
exceeded (also with answers at the same moment), a waiting list, replays and erasure."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.events.setup import end_event, invited

from closedloop.campaigns.models import Communication
from closedloop.consent.models import Suppression
from closedloop.db.uow import unit_of_work
from closedloop.errors import NotFound, Refused, ValidationFailed
from closedloop.events.models import Event, EventGuest
from closedloop.events.rsvp import answer, check_in
from closedloop.events.service import attendance, get_event
from closedloop.responses.models import Response


def _responses(s: Session, campaign_id: int) -> list[tuple[int, str, str]]:
    rows = s.scalars(
        select(Response).where(Response.campaign_id == campaign_id).order_by(Response.id)
    )
    return [(r.person_id or 0, r.kind, (r.detail or {})["answer"]) for r in rows]


def test_an_answer_is_a_response_against_person_message_wave_and_cell(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 2)
    with unit_of_work(factory) as s:
        got = answer(s, made.messages[0], "yes")
        assert got.answer == "yes" and got.changed
    with factory() as s:
        [r] = s.scalars(select(Response)).all()
        comm = s.get(Communication, made.messages[0])
        assert comm is not None
        assert (r.kind, r.person_id, r.communication_id) == ("rsvp", comm.person_id, comm.id)
        assert (r.campaign_id, r.wave_id, r.cell_id) == (
            comm.campaign_id,
            comm.wave_id,
            comm.cell_id,
        )
        assert r.detail == {"answer": "yes", "guests": 0, "event_id": made.event_id}
        assert s.get(Event, made.event_id).seats_taken == 1  # type: ignore[union-attr]


def test_a_replayed_answer_changes_nothing_and_a_changed_one_is_recorded(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 1)
    for given in ("maybe", "maybe", "yes", "yes", "no"):
        with unit_of_work(factory) as s:
            answer(s, made.messages[0], given)
    with factory() as s:
        pid = made.person_ids[0]
        assert _responses(s, made.campaign_id) == [
            (pid, "rsvp", "maybe"), (pid, "rsvp", "yes"), (pid, "rsvp", "no"),
        ]  # fmt: skip
        assert s.get(Event, made.event_id).seats_taken == 0  # type: ignore[union-attr]


def test_a_full_event_puts_the_next_yes_on_the_waiting_list_and_a_freed_seat_goes_to_it(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 4)  # capacity 2
    got = []
    for m in made.messages[:3]:
        with unit_of_work(factory) as s:
            got.append(answer(s, m, "yes").answer)
    assert got == ["yes", "yes", "waitlist"]
    with unit_of_work(factory) as s:
        answer(s, made.messages[0], "no")  # frees a seat: the first waiting takes it
    with factory() as s:
        event = get_event(s, made.event_id)
        seen = attendance(s, event)
        assert event.seats_taken == 2
        assert seen.counts["yes"] == 2 and seen.counts["no"] == 1 and seen.counts["waitlist"] == 0
        assert seen.counts["invited"] == 4
        states = {r.person_id: r.state for r in seen.rows}
        assert states[made.person_ids[2]] == "yes" and states[made.person_ids[3]] == "invited"
        third = [x for x in _responses(s, made.campaign_id) if x[0] == made.person_ids[2]]
        assert [a for _p, _k, a in third] == ["waitlist", "yes"]


def test_answers_at_the_same_moment_never_exceed_capacity(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 6, capacity=3)
    start = threading.Barrier(6)
    results: list[str] = []
    errors: list[BaseException] = []

    def one(message: int) -> None:
        try:
            start.wait()
            with unit_of_work(factory) as s:
                results.append(answer(s, message, "yes").answer)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(m,)) for m in made.messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == ["waitlist"] * 3 + ["yes"] * 3
    with factory() as s:
        assert s.get(Event, made.event_id).seats_taken == 3  # type: ignore[union-attr]
        yes = s.scalar(
            select(func.count()).where(
                EventGuest.event_id == made.event_id, EventGuest.answer == "yes"
            )
        )
        assert yes == 3


def test_check_in_twice_is_once_and_no_shows_appear_when_the_event_is_over(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 3)
        answer(s, made.messages[0], "yes")
        answer(s, made.messages[1], "yes")
    with unit_of_work(factory) as s:
        event = get_event(s, "GALA")
        first = check_in(s, event, communication_id=made.messages[0], by="door")
        again = check_in(s, event, person_id=made.person_ids[0], by="door")
        assert not first.already and again.already
    with unit_of_work(factory) as s:
        end_event(s, made.event_id)
    with factory() as s:
        seen = attendance(s, get_event(s, made.event_id))
        assert seen.counts["attended"] == 1 and seen.counts["no_show"] == 1
        kinds = [(k, a) for p, k, a in _responses(s, made.campaign_id) if p == made.person_ids[0]]
        assert kinds == [("rsvp", "yes"), ("attendance", "attended")]
    with unit_of_work(factory) as s, pytest.raises(Refused, match="over"):
        answer(s, made.messages[2], "yes")


def test_answers_for_an_erased_or_deleted_person_or_a_stranger_message_are_refused(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 2)
        s.add(Suppression(person_id=made.person_ids[0], reason="erased", note="right to erasure"))
    with unit_of_work(factory) as s, pytest.raises(Refused):
        answer(s, made.messages[0], "yes")
    with unit_of_work(factory) as s, pytest.raises(NotFound):
        answer(s, 10**9, "yes")
    with unit_of_work(factory) as s, pytest.raises(ValidationFailed):
        answer(s, made.messages[1], "attended")
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Response)) == 0


def test_answers_count_as_responses_in_the_campaign_funnel(factory: sessionmaker[Session]) -> None:
    from closedloop.campaigns.models import FunnelCount

    with unit_of_work(factory) as s:
        made = invited(s, 3, capacity=10)
        answer(s, made.messages[0], "yes")
        answer(s, made.messages[1], "no")
        check_in(s, get_event(s, made.event_id), communication_id=made.messages[0])
    with factory() as s:
        whole = s.scalars(
            select(FunnelCount.responded).where(
                FunnelCount.campaign_id == made.campaign_id, FunnelCount.scope == 0
            )
        ).all()
        assert sum(whole) == 2  # distinct persons who reacted


def test_a_merge_moves_the_guest_row_and_an_unmerge_gives_it_back(
    factory: sessionmaker[Session],
) -> None:
    from closedloop.dedupe.merge import merge_persons, unmerge

    with unit_of_work(factory) as s:
        made = invited(s, 2)
        answer(s, made.messages[1], "yes")
    golden, source = made.person_ids
    with unit_of_work(factory) as s:
        merged = merge_persons(s, golden, source)
    with factory() as s:
        assert s.scalars(select(EventGuest.person_id)).all() == [golden]
    with unit_of_work(factory) as s:
        again = answer(s, made.messages[1], "yes")  # the source's link answers for the golden
        assert not again.changed and again.guest.person_id == golden
        unmerge(s, merged.id)
    with factory() as s:
        assert s.scalars(select(EventGuest.person_id)).all() == [source]
