"""The sender against what goes wrong: consent withdrawn after extraction, suppressed
addresses, refused and deferred recipients, a server down or slow, a merged or deleted
person, a template field empty for some, two senders, the demo base."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import Rejecting, email_template, smtp, wave
from tests.net import free_port

from closedloop.campaigns import ledger, send_lease
from closedloop.campaigns.models import Communication, SendRun
from closedloop.campaigns.sender import WaveSender
from closedloop.consent.models import Suppression
from closedloop.consent.service import record_consent
from closedloop.contacts.models import Person
from closedloop.db.base import as_utc, utcnow
from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict, Refused
from closedloop.ingest.models import ImportBatch
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose


def _rows(factory: sessionmaker[Session], wave_id: int) -> dict[int, Communication]:
    with factory() as s:
        rows = s.scalars(select(Communication).where(Communication.wave_id == wave_id)).all()
        return {r.person_id: r for r in rows}


def test_consent_withdrawn_or_address_suppressed_after_extraction_is_not_sent(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 4)
    a, b = setup.person_ids[0], setup.person_ids[1]
    with unit_of_work(factory) as s:  # after extraction, before sending
        record_consent(
            s,
            a,
            Channel.EMAIL,
            Purpose.MARKETING,
            ConsentState.WITHDRAWN,
            method=ConsentMethod.UNSUBSCRIBE_LINK,
        )
        s.add(Suppression(value_key="reader1@example.org", channel="email", reason="bounced"))
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        report = WaveSender(factory, setup.wave_id).run()
    assert sorted(handler.received) == ["reader2@example.org", "reader3@example.org"]
    rows = _rows(factory, setup.wave_id)
    assert (rows[a].status, rows[a].detail) == ("suppressed", "consent withdrawn")
    assert (rows[b].status, rows[b].detail) == ("suppressed", "suppressed (bounced)")
    assert report.suppressed == 2 and report.sent == 2


def test_refused_recipients_fail_deferred_ones_are_retried_then_given_up(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 5)
    refuse = {"reader1@": "550 5.1.1 No such user", "reader2@": "451 4.7.1 Greylisted, later"}
    handler = Rejecting(refuse)
    with smtp(handler, monkeypatch, SEND_RETRY_SECONDS="0.2", SEND_MAX_ATTEMPTS="3"):
        first = WaveSender(factory, setup.wave_id).run()
        rows = _rows(factory, setup.wave_id)
        p1, p2 = setup.person_ids[1], setup.person_ids[2]
        assert (rows[p1].status, rows[p1].detail) == ("failed", "RCPT: 550 5.1.1 No such user")
        assert rows[p2].status == "queued" and rows[p2].next_attempt_at is not None
        assert first.sent == 3 and first.failed == 1 and first.retrying >= 1
        report = first
        while report.next_retry_at is not None:
            threading.Event().wait(
                max(0.0, (as_utc(report.next_retry_at) - utcnow()).total_seconds())
            )
            report = WaveSender(factory, setup.wave_id).run()
            assert report.sent == 0
    rows = _rows(factory, setup.wave_id)
    assert rows[p2].status == "failed" and rows[p2].attempts == 3
    assert rows[p2].detail.startswith("gave up after 3 attempts: RCPT: 451")
    assert sorted(handler.received) == [f"reader{i}@example.org" for i in (0, 3, 4)]
    assert handler.rcpt_calls.count("reader2@example.org") == 3


def test_a_server_that_is_down_leaves_every_row_queued(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 3)
    monkeypatch.setenv("CLOSEDLOOP_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLOSEDLOOP_SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("CLOSEDLOOP_SEND_UNAVAILABLE_SECONDS", "0")
    from closedloop.settings import get_settings

    get_settings.cache_clear()
    report = WaveSender(factory, setup.wave_id).run()
    get_settings.cache_clear()
    assert report.stopped and "cannot reach the SMTP server" in report.stopped
    assert report.counts == {"queued": 3}
    with factory() as s:
        run = s.get(SendRun, setup.wave_id)
        assert run is not None and run.holder is None and run.state == "stopped"


def test_a_server_too_slow_to_answer_the_end_of_data_is_unconfirmed_never_resent(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 2)
    handler = Rejecting(data_delay=1.5)
    with smtp(handler, monkeypatch, SMTP_DATA_TIMEOUT_SECONDS="0.3", SMTP_CONNECTIONS="2"):
        report = WaveSender(factory, setup.wave_id).run()
        again = WaveSender(factory, setup.wave_id).run()
    assert report.unconfirmed == 2 and again.sent == again.unconfirmed == 0
    # handed over once each, never again (the server may or may not have kept them)
    assert sorted(handler.rcpt_calls) == ["reader0@example.org", "reader1@example.org"]
    rows = _rows(factory, setup.wave_id)
    assert {r.status for r in rows.values()} == {"unconfirmed"}
    assert all(r.external_ref and r.external_ref.startswith("<w") for r in rows.values())


def test_a_person_queued_twice_after_a_merge_gets_one_message_and_a_deleted_one_none(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 3)
        golden, source, gone = setup.person_ids
        # the merge moved the source's queued row to the golden record
        s.execute(
            update(Communication).where(Communication.person_id == source).values(person_id=golden)
        )
        s.execute(delete(Person).where(Person.id == gone))
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        report = WaveSender(factory, setup.wave_id).run()
    assert handler.received == ["reader0@example.org"]
    with factory() as s:
        statuses = sorted(
            s.scalars(select(Communication.status).where(Communication.wave_id == setup.wave_id))
        )
    assert statuses == ["sent", "skipped"] and report.skipped == 1


def test_an_empty_field_without_fallback_fails_that_recipient_only(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        template = email_template(
            s,
            body='<p>Dear {{ person.given_name }}</p><a href="{{ unsubscribe_url }}">x</a>',
            subject="Hi",
            code="strict",
        )
        setup = wave(s, 2, template_id=template)
        s.execute(update(Person).where(Person.id == setup.person_ids[0]).values(given_name=None))
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        report = WaveSender(factory, setup.wave_id).run()
    rows = _rows(factory, setup.wave_id)
    first = rows[setup.person_ids[0]]
    assert (first.status, first.detail) == (
        "failed",
        "person.given_name is empty for this recipient",
    )
    assert handler.received == ["reader1@example.org"] and report.failed == 1


def test_two_senders_for_one_wave_only_one_works(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 2)
        me = f"{socket.gethostname()}:{os.getpid()}:1"  # a live process of this machine
        send_lease.acquire(s, setup.wave_id, me, stale_after=60, alive=lambda h: h == me)
    handler = Rejecting()
    with smtp(handler, monkeypatch), pytest.raises(Conflict, match="being sent by"):
        WaveSender(factory, setup.wave_id).run()
    assert handler.received == []
    # a sender that lost its lease cannot mark anything (so cannot send)
    with unit_of_work(factory) as s, pytest.raises(send_lease.LeaseLost):
        row = next(iter(_rows(factory, setup.wave_id).values()))
        ledger.mark_sending(s, setup.wave_id, "another:1:1", {row.id: "<x@y>"})


def test_the_demo_base_is_refused_unless_the_delivery_is_a_test_sink(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        batch = ImportBatch(kind="demo", source_system="demo", status="done")
        s.add(batch)
        s.flush()
        setup = wave(s, 2)
        s.execute(update(Person).values(import_batch_id=batch.id))
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        with pytest.raises(Refused, match="demo base"):
            WaveSender(factory, setup.wave_id).run()
        monkeypatch.setenv("CLOSEDLOOP_DELIVERY_IS_TEST_SINK", "true")
        assert WaveSender(factory, setup.wave_id).run().sent == 2
    assert len(handler.received) == 2
