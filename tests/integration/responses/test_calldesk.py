"""The agents' call desk on real rows: the next call of running phone waves, claims, the
agent's daily capacity, preferred times, consent withdrawn since extraction, and outcomes
settling the call list (stored as call responses)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import (
    Rejecting,
    WaveSetup,
    email_template,
    person,
    smtp,
    wave,
)
from tests.integration.responses.calls import phone_wave

from closedloop.campaigns import lifecycle, service
from closedloop.campaigns.models import Campaign, Communication, Offer, Wave
from closedloop.campaigns.schemas import CampaignCreate, CellCreate, WaveCreate
from closedloop.campaigns.sender import WaveSender
from closedloop.consent.preferences import withdraw_all
from closedloop.contacts.models import Person, Phone
from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict, ValidationFailed
from closedloop.responses import calldesk, calltimes
from closedloop.responses.callcard import call_card
from closedloop.responses.desk import CallOutcome
from closedloop.responses.models import Response
from closedloop.responses.settings import get_response_settings
from closedloop.segments import freeze_members
from closedloop.vocab import Channel, ConsentMethod

# A Wednesday at 10:00 UTC (the desk's zone is UTC in the tests).
WEDNESDAY_10 = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)


@pytest.fixture()
def calls(factory: sessionmaker[Session]) -> Callable[..., WaveSetup]:
    """A running phone wave of ``n`` persons with a phone script."""

    def make(n: int = 3, code: str = "CALLS", running: bool = True) -> WaveSetup:
        with unit_of_work(factory) as s:
            return phone_wave(s, n, code, running=running)

    return make


@pytest.fixture()
def capacity(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    def set_(n: int) -> None:
        monkeypatch.setenv("CLOSEDLOOP_CALLS_PER_AGENT_PER_DAY", str(n))
        get_response_settings.cache_clear()

    yield set_
    get_response_settings.cache_clear()


def _status(factory: sessionmaker[Session], row: int) -> tuple[str, str | None]:
    with factory() as s:
        got = s.execute(
            select(Communication.status, Communication.detail).where(Communication.id == row)
        ).one()
        return got[0], got[1]


def test_two_agents_never_get_the_same_call_and_a_held_call_comes_back(
    factory: sessionmaker[Session], calls: Callable[..., WaveSetup]
) -> None:
    calls(2)
    with unit_of_work(factory) as s:
        ann = calldesk.next_call(s, "ann", now=WEDNESDAY_10)
    with unit_of_work(factory) as s:
        bob = calldesk.next_call(s, "bob", now=WEDNESDAY_10)
        again = calldesk.next_call(s, "ann", now=WEDNESDAY_10)
        cid = calldesk.next_call(s, "cid", now=WEDNESDAY_10)
    assert ann.communication_id and bob.communication_id
    assert ann.communication_id != bob.communication_id
    assert again.communication_id == ann.communication_id  # her call in hand
    assert (cid.communication_id, cid.reason) == (None, "empty")


def test_outcomes_settle_the_call_list_and_are_call_responses(
    factory: sessionmaker[Session], calls: Callable[..., WaveSetup]
) -> None:
    setup = calls(4)
    with factory() as s:
        rows = list(
            s.scalars(
                select(Communication.id)
                .where(Communication.wave_id == setup.wave_id)
                .order_by(Communication.id)
            )
        )
    back = WEDNESDAY_10 + timedelta(days=1)
    with unit_of_work(factory) as s:
        card = call_card(s, rows[0], now=WEDNESDAY_10)
        assert card.script == "Hello Ann, this is the book club: Book club for you."
        assert card.phone == "+33612340000" and card.phone_consent == "granted"
        calldesk.finish_call(
            s, rows[0], "ann", CallOutcome.INTERESTED, note="send a brochure", now=WEDNESDAY_10
        )
        calldesk.finish_call(
            s, rows[1], "ann", CallOutcome.CALL_BACK, call_back_at=back, now=WEDNESDAY_10
        )
        calldesk.finish_call(s, rows[2], "ann", CallOutcome.WRONG_NUMBER, now=WEDNESDAY_10)
        calldesk.finish_call(s, rows[3], "ann", CallOutcome.REFUSED, now=WEDNESDAY_10)
    assert _status(factory, rows[0]) == ("sent", "interested (agent ann)")
    assert _status(factory, rows[1])[0] == "queued"
    assert _status(factory, rows[2]) == ("failed", "wrong number (agent ann)")
    assert _status(factory, rows[3])[0] == "sent"
    with factory() as s:
        responses = s.scalars(select(Response).order_by(Response.id)).all()
        assert [(r.kind, r.communication_id, r.wave_id, r.cell_id) for r in responses] == [
            ("call", row, setup.wave_id, setup.cell_id) for row in rows
        ]
        outcomes = [r.detail["outcome"] for r in responses if r.detail]
        assert outcomes == ["interested", "call_back", "wrong_number", "refused"]
        assert responses[0].detail and responses[0].detail["note"] == "send a brochure"
        assert (
            s.scalar(select(Phone.is_valid).where(Phone.person_id == setup.person_ids[2])) is False
        )
        due = s.scalar(select(Communication.next_attempt_at).where(Communication.id == rows[1]))
        assert due is not None and due.replace(tzinfo=UTC) == back
    # The call back is not offered before its time, and is at its time.
    with unit_of_work(factory) as s:
        assert calldesk.next_call(s, "bob", now=WEDNESDAY_10).communication_id is None
        assert calldesk.next_call(s, "bob", now=back).communication_id == rows[1]
    # A settled call cannot be settled again.
    with unit_of_work(factory) as s, pytest.raises(Conflict, match="already settled"):
        calldesk.finish_call(s, rows[0], "ann", CallOutcome.SALE, now=WEDNESDAY_10)


def test_bad_outcomes_are_refused_and_store_nothing(
    factory: sessionmaker[Session], calls: Callable[..., WaveSetup]
) -> None:
    calls(1)
    with unit_of_work(factory) as s:
        row = calldesk.next_call(s, "ann", now=WEDNESDAY_10).communication_id
    assert row is not None
    for when in (None, WEDNESDAY_10 - timedelta(hours=1), WEDNESDAY_10 + timedelta(days=400)):
        with factory() as s, pytest.raises(ValidationFailed) as caught:
            calldesk.finish_call(
                s, row, "ann", CallOutcome.CALL_BACK, call_back_at=when, now=WEDNESDAY_10
            )
        assert caught.value.errors[0]["field"] == "call_back_at"
    # Another agent cannot settle the call Ann holds.
    with factory() as s, pytest.raises(Conflict, match="being made by ann"):
        calldesk.finish_call(s, row, "bob", CallOutcome.REACHED)
    with factory() as s:
        assert s.scalar(select(Response.id)) is None


def test_unanswered_calls_come_back_then_give_up(
    factory: sessionmaker[Session], calls: Callable[..., WaveSetup]
) -> None:
    calls(1)
    now = WEDNESDAY_10
    for attempt in range(3):
        with unit_of_work(factory) as s:
            row = calldesk.next_call(s, "ann", now=now).communication_id
            assert row is not None, attempt
            result = calldesk.finish_call(s, row, "ann", CallOutcome.NO_ANSWER, now=now)
        assert result.status == ("failed" if attempt == 2 else "queued")
        now += timedelta(hours=5)
    assert _status(factory, row) == ("failed", "no answer after 3 attempts")


def test_capacity_per_agent_and_day(
    factory: sessionmaker[Session], calls: Callable[..., WaveSetup], capacity: Callable[[int], None]
) -> None:
    capacity(2)
    calls(4)
    for _ in range(2):
        with unit_of_work(factory) as s:
            row = calldesk.next_call(s, "ann", now=WEDNESDAY_10).communication_id
            assert row is not None
            calldesk.finish_call(s, row, "ann", CallOutcome.REACHED, now=WEDNESDAY_10)
    with unit_of_work(factory) as s:
        full = calldesk.next_call(s, "ann", now=WEDNESDAY_10)
        assert (full.communication_id, full.reason, full.day.done) == (None, "capacity", 2)
        # Bob's day is his own; Ann's next day starts again.
        assert calldesk.next_call(s, "bob", now=WEDNESDAY_10).communication_id is not None
        tomorrow = calldesk.next_call(s, "ann", now=WEDNESDAY_10 + timedelta(days=1))
        assert tomorrow.communication_id is not None and tomorrow.day.done == 0


def test_preferred_times_and_withdrawn_consent(
    factory: sessionmaker[Session], calls: Callable[..., WaveSetup]
) -> None:
    setup = calls(4)
    evening, morning, nothing, withdrawn = setup.person_ids
    with unit_of_work(factory) as s:
        s.execute(update(Person).where(Person.id == evening).values(preferred_time="evening"))
        s.execute(update(Person).where(Person.id == morning).values(preferred_time="9-12"))
        withdraw_all(s, withdrawn, method=ConsentMethod.AGENT, action="test", channel=Channel.PHONE)
    order = []
    with unit_of_work(factory) as s:
        for agent in ("a", "b", "c"):
            got = calldesk.next_call(s, agent, now=WEDNESDAY_10)
            order.append(got.communication_id)
    with factory() as s:
        owner = dict(s.execute(select(Communication.id, Communication.person_id)).all())
        suppressed = s.scalar(
            select(Communication.status).where(Communication.person_id == withdrawn)
        )
    # At 10:00 the "9-12" person first, then the one who said nothing; "evening" waits.
    assert [owner.get(i) if i else None for i in order] == [morning, nothing, None]
    assert suppressed == "suppressed"
    with unit_of_work(factory) as s:
        later = calldesk.next_call(s, "d", now=WEDNESDAY_10.replace(hour=19))
        assert owner[later.communication_id or 0] == evening


def test_paused_waves_and_other_channels_are_not_called(
    factory: sessionmaker[Session], calls: Callable[..., WaveSetup]
) -> None:
    calls(2, running=False)
    with unit_of_work(factory) as s:
        wave(s, 2, code="MAIL")  # an email wave
        s.execute(update(Wave).values(status="running").where(Wave.name == "Wave 1"))
        s.execute(
            update(Wave)
            .where(
                Wave.id.in_(select(Communication.wave_id).where(Communication.channel == "phone"))
            )
            .values(status="paused")
        )
        assert calldesk.next_call(s, "ann", now=WEDNESDAY_10).reason == "empty"


@pytest.mark.parametrize(
    ("text", "at", "ok"),
    [
        ("morning", "10:00", True),
        ("morning", "14:00", False),
        ("après-midi", "14:00", True),
        ("18:00-20:30", "20:00", True),
        ("18h-20h30", "20:45", False),
        ("after 17", "17:30", True),
        ("from 9 to 12", "14:00", False),
        ("weekend", "10:00", False),  # a Wednesday
        ("whenever you like", "03:00", True),
        ("", "03:00", True),
        ("25-30", "10:00", True),  # no hour: restricts nothing
    ],
)
def test_preferred_time_texts(text: str, at: str, ok: bool) -> None:
    hour, minute = map(int, at.split(":"))
    assert calltimes.parse(text).allows(WEDNESDAY_10.replace(hour=hour, minute=minute)) is ok


def test_a_launched_campaign_mails_some_and_leaves_its_calls_to_the_desk(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A campaign of an email cell and a phone cell (no template: it works from the offer),
    launched for real: the sender delivers the emails over SMTP and leaves the calls queued;
    the desk works them and the campaign completes with its last call."""
    with unit_of_work(factory) as s:
        email_template(s, code="mix-mail")
        s.add(Offer(code="CLUB", name="Book club", description="Six books a year.", price=9))
        people = [
            person(s, i, phone=True, consent=(Channel.EMAIL, Channel.PHONE)) for i in range(4)
        ]
        segment = freeze_members(s, "Readers", people, {"kind": "test"})
        data = CampaignCreate(
            code="MIX",
            name="Mixed",
            segment_id=segment.id,
            waves=[WaveCreate(name="Now")],
            cells=[
                CellCreate(code="M", name="Mail", channel=Channel.EMAIL, template="mix-mail",
                       offer="CLUB", share=0.5),
                CellCreate(code="P", name="Calls", channel=Channel.PHONE, offer="CLUB", share=0.5),
            ],
        )  # fmt: skip
        cid = service.create_campaign(s, data, created_by="alice").id
        lifecycle.approve(s, cid, by="bob")
    with unit_of_work(factory) as s:
        [start] = lifecycle.launch(s, cid, by="bob").started
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        report = WaveSender(factory, start.wave_id).run()
    with factory() as s:
        rows = s.execute(
            select(Communication.id, Communication.channel, Communication.status).where(
                Communication.wave_id == start.wave_id
            )
        ).all()
    mails = [r for r in rows if r.channel == "email"]
    calls = [r.id for r in rows if r.channel == "phone"]
    assert mails and calls and len(rows) == 4
    assert report.sent == len(mails) == len(handler.received)
    assert {r.status for r in rows if r.channel == "phone"} == {"queued"}
    with unit_of_work(factory) as s:
        assert lifecycle.settle(s, cid).status == "running"  # calls still to make
    for _ in calls:
        with unit_of_work(factory) as s:
            got = calldesk.next_call(s, "ann")
            assert got.communication_id in calls
            card = call_card(s, got.communication_id)
            assert card.script == "Book club\nSix books a year."
            calldesk.finish_call(s, got.communication_id, "ann", CallOutcome.REACHED)
    with factory() as s:
        assert s.scalar(select(Campaign.status).where(Campaign.id == cid)) == "completed"
