"""Outgoing webhooks against a real local HTTP receiver: signatures, retries with backoff,
failure after the attempts, redelivery, subscriptions, the outbox in the writer's
transaction."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.consent import service as consent_service
from closedloop.contacts import service as contacts_service
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.base import as_utc, utcnow
from closedloop.db.uow import unit_of_work
from closedloop.interfaces import webhooks
from closedloop.interfaces.models import WebhookAttempt, WebhookDelivery
from closedloop.interfaces.outbox import DELIVER
from closedloop.interfaces.settings import get_interfaces_settings
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

from .conftest import Receiver

#: The receivers run on 127.0.0.1, an internal address webhooks refuse by default.
pytestmark = pytest.mark.usefixtures("allow_private_webhooks")


def _endpoint(factory: sessionmaker[Session], url: str, *types: str) -> tuple[int, str]:
    with unit_of_work(factory) as s:
        endpoint = webhooks.create_endpoint(s, url, list(types), description="test")
        return endpoint.id, endpoint.secret


def _person(factory: sessionmaker[Session], name: str = "Dupont") -> int:
    with unit_of_work(factory) as s:
        person = contacts_service.create_person(
            s,
            PersonCreate.model_validate(
                {
                    "given_name": "Jean",
                    "family_name": name,
                    "emails": [{"address": f"{name}@example.com"}],
                }
            ),
        )
        return person.id


def _deliveries(session: Session) -> list[WebhookDelivery]:
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_signed_delivery_verifies_with_the_secret(
    engine: Engine, factory: sessionmaker[Session], session: Session, receiver: Receiver
) -> None:
    _, secret = _endpoint(factory, receiver.url, "person.created")
    pid = _person(factory)
    assert run_pending(engine, kinds=[DELIVER]) == 1
    [got] = receiver.requests
    event_id = got.headers["closedloop-webhook-id"]
    timestamp = got.headers["closedloop-webhook-timestamp"]
    expected = hmac.new(
        secret.encode(), f"{event_id}.{timestamp}.{got.body}".encode(), hashlib.sha256
    ).hexdigest()
    assert got.headers["closedloop-signature"] == f"v1={expected}"
    body = got.json
    assert body["id"] == event_id and body["type"] == "person.created"
    assert body["data"]["person_id"] == pid and body["data"]["emails"] == ["Dupont@example.com"]
    [delivery] = _deliveries(session)
    assert delivery.status == "delivered" and delivery.attempts == 1
    wrong = hmac.new(b"other", f"{event_id}.{timestamp}.{got.body}".encode(), hashlib.sha256)
    assert got.headers["closedloop-signature"] != f"v1={wrong.hexdigest()}"


def test_receiver_failing_twice_then_succeeding(
    engine: Engine, factory: sessionmaker[Session], session: Session, receiver: Receiver
) -> None:
    receiver.answers = [500, 503]
    _endpoint(factory, receiver.url, "person.created")
    _person(factory)
    run_pending(engine, kinds=[DELIVER])
    [delivery] = _deliveries(session)
    assert delivery.status == "delivered" and delivery.attempts == 3
    tries = webhooks.attempts(session, delivery.id)
    assert [(a.attempt_no, a.status_code, a.succeeded) for a in tries] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert tries[0].error == "HTTP 500" and (tries[0].response_size or 0) > len('{"ok": false}')
    assert tries[0].response_excerpt is None  # an internal receiver: its body is never kept
    assert all(a.duration_ms >= 0 for a in tries)
    assert len({r.headers["closedloop-webhook-id"] for r in receiver.requests}) == 1


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/down"


def test_receiver_down_retries_with_backoff_then_fails(
    engine: Engine,
    factory: sessionmaker[Session],
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_RETRY_SCHEDULE", "[60, 300]")
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_JITTER", "0.2")
    get_interfaces_settings.cache_clear()
    _endpoint(factory, _dead_url(), "person.created")
    _person(factory)
    for attempt, wait in ((1, 60), (2, 300)):
        before = utcnow()
        assert run_pending(engine, kinds=[DELIVER]) == 1
        [delivery] = _deliveries(session)
        assert delivery.status == "pending" and delivery.attempts == attempt
        assert delivery.next_attempt_at is not None
        due = as_utc(delivery.next_attempt_at)
        assert before + timedelta(seconds=wait) <= due <= utcnow() + timedelta(seconds=wait * 1.2)
        job = session.scalars(select(Job).where(Job.kind == DELIVER, Job.status == "queued")).one()
        assert job.run_after is not None and abs(as_utc(job.run_after) - due) < timedelta(seconds=1)
        assert run_pending(engine, kinds=[DELIVER]) == 0  # nothing is due before the backoff
        with unit_of_work(factory) as s:  # time passes
            s.execute(update(Job).where(Job.kind == DELIVER).values(run_after=utcnow()))
            s.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
    assert run_pending(engine, kinds=[DELIVER]) == 1
    [delivery] = _deliveries(session)
    assert delivery.status == "failed" and delivery.attempts == 3
    tries = webhooks.attempts(session, delivery.id)
    assert len(tries) == 3 and all(a.status_code is None for a in tries)
    assert all("ConnectError" in (a.error or "") for a in tries)
    assert (
        session.scalar(select(func.count()).where(Job.kind == DELIVER, Job.status == "queued")) == 0
    )


def test_redeliver_a_failed_delivery(
    engine: Engine, factory: sessionmaker[Session], session: Session, receiver: Receiver
) -> None:
    receiver.answers = [500, 500, 500, 500]
    _endpoint(factory, receiver.url, "person.created")
    _person(factory)
    run_pending(engine, kinds=[DELIVER])
    [failed] = _deliveries(session)
    assert failed.status == "failed" and failed.attempts == 4
    with unit_of_work(factory) as s:
        again = webhooks.redeliver(s, failed.id).id
    run_pending(engine, kinds=[DELIVER])
    session.expire_all()
    new = session.get(WebhookDelivery, again)
    assert new is not None and new.status == "delivered" and new.event_id == failed.event_id
    assert receiver.requests[-1].body == failed.body
    assert len(receiver.requests) == 5


def test_only_subscribed_active_endpoints_get_events(
    engine: Engine, factory: sessionmaker[Session], session: Session, receiver: Receiver
) -> None:
    consents, _ = _endpoint(factory, receiver.url + "?c", "consent.changed")
    people, _ = _endpoint(factory, receiver.url + "?p", "person.created", "person.updated")
    off, _ = _endpoint(factory, receiver.url + "?off", "person.created")
    with unit_of_work(factory) as s:
        webhooks.update_endpoint(s, off, is_active=False)
    pid = _person(factory)
    with unit_of_work(factory) as s:
        consent_service.record_consent(
            s,
            pid,
            Channel.EMAIL,
            Purpose.MARKETING,
            ConsentState.GRANTED,
            method=ConsentMethod.WEB_FORM,
            proof_text="Oui",
            source_system="shop",
        )
    run_pending(engine, kinds=[DELIVER])
    by_endpoint = {d.endpoint_id: d.event_type for d in _deliveries(session)}
    assert by_endpoint == {people: "person.created", consents: "consent.changed"}
    paths = sorted(r.json["type"] for r in receiver.requests)
    assert paths == ["consent.changed", "person.created"]
    consent = next(r.json for r in receiver.requests if r.json["type"] == "consent.changed")
    assert consent["data"]["state"] == "granted" and consent["data"]["person_id"] == pid


def test_no_subscriber_writes_nothing_and_rollback_leaves_no_delivery(
    engine: Engine, factory: sessionmaker[Session], session: Session, receiver: Receiver
) -> None:
    _person(factory, "Alone")
    assert _deliveries(session) == []
    assert session.scalar(select(func.count()).where(Job.kind == DELIVER)) == 0
    _endpoint(factory, receiver.url, "person.created")
    with pytest.raises(RuntimeError), unit_of_work(factory) as s:
        contacts_service.create_person(s, PersonCreate.model_validate({"family_name": "Gone"}))
        raise RuntimeError("the writer fails after the event")
    assert _deliveries(session) == []  # outbox: no write, no delivery, no job
    assert session.scalar(select(func.count()).where(Job.kind == DELIVER)) == 0


def test_rotated_secret_signs_with_both_during_the_grace(
    engine: Engine, factory: sessionmaker[Session], receiver: Receiver
) -> None:
    endpoint_id, old = _endpoint(factory, receiver.url, "person.created")
    with unit_of_work(factory) as s:
        new = webhooks.rotate_secret(s, endpoint_id).secret
    assert new != old
    _person(factory)
    run_pending(engine, kinds=[DELIVER])
    got = receiver.requests[0]
    message = ".".join(
        [
            got.headers["closedloop-webhook-id"],
            got.headers["closedloop-webhook-timestamp"],
            got.body,
        ]
    ).encode()
    sigs = got.headers["closedloop-signature"].split(" ")
    assert sigs == [
        "v1=" + hmac.new(key.encode(), message, hashlib.sha256).hexdigest() for key in (new, old)
    ]
    assert json.loads(got.body)["type"] == "person.created"


def test_attempt_log_keeps_each_try(
    engine: Engine, factory: sessionmaker[Session], session: Session, receiver: Receiver
) -> None:
    receiver.answers = [404]
    _endpoint(factory, receiver.url, "person.created")
    _person(factory)
    run_pending(engine, kinds=[DELIVER])
    assert session.scalar(select(func.count()).select_from(WebhookAttempt)) == 2
