"""Double opt-in end to end below the web layer: a sign-up queues an ``email.send`` job, the
job sends through a real SMTP server (aiosmtpd in a thread), the link's token confirms, and
the ledger holds the grants with their proof."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.mail import Inbox, free_port, smtp_server

from closedloop.consent import forms, signup, signup_jobs
from closedloop.consent.models import ConsentCurrent, ConsentEvent, SignupRequest
from closedloop.consent.tokens import (
    TokenExpired,
    TokenInvalid,
    TokenPurpose,
    make_token,
    read_token,
)
from closedloop.contacts import service as contacts
from closedloop.contacts.models import Email, Person
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending
from closedloop.settings import get_settings

PROOF = "Yes, send me the book news by email. I can withdraw at any time."


@pytest.fixture()
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on a free local port; the settings point at it."""
    with smtp_server(monkeypatch, "https://news.example.com") as handler:
        yield handler


def make_form(factory: sessionmaker[Session], **over: Any) -> int:
    values: dict[str, Any] = {
        "slug": "books",
        "title": "Book news",
        "topics": [
            {"code": "book-news", "label": "Book news", "purpose": "newsletter"},
            {"code": "offers", "label": "Offers", "purpose": "marketing"},
        ],
        "channels": ["email", "sms"],
        "proof_text": PROOF,
        "proof_version": "2026-11",
        "confirm_subject": "Confirm, {given_name}",
        "confirm_body": "Hello {given_name} {family_name},\n\nconfirm here:\n\n{link}\n\nBye",
        **over,
    }
    with unit_of_work(factory) as s:
        data = forms.validate_form(values, create=True)
        assert isinstance(data, forms.SignupFormCreate)
        return forms.create_form(s, data).id


def submit(factory: sessionmaker[Session], form_id: int, **fields: Any) -> None:
    data = {"email": "Lea.Martin@Example.org", "topics": ["book-news"], "channels": ["email"]}
    data.update(fields)
    with unit_of_work(factory) as s:
        form = forms.get_form(s, form_id)
        signup.submit_signup(
            s, form, signup.SignupSubmission(**data), ip_address="203.0.113.7", user_agent="UA"
        )


def link_in(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"https://news\.example\.com/signup/confirm/(\S+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def test_signup_sends_confirmation_and_link_records_grants_with_proof(
    engine: Engine, factory: sessionmaker[Session], inbox: Inbox
) -> None:
    form_id = make_form(factory)
    submit(
        factory,
        form_id,
        given_name="Léa",
        family_name="Martin",
        phone="06 12 34 56 78",
        topics=["book-news", "offers"],
        channels=["email", "sms"],
    )
    with factory() as s:
        # Pending: a prospect exists, but no consent before the confirmation.
        person = s.scalars(select(Person)).one()
        assert person.lifecycle_status == "prospect" and person.given_name == "Léa"
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 0
        assert s.scalars(select(Job.kind)).all() == ["email.send"]
    assert run_pending(engine) == 1
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "Lea.Martin@example.org"
    assert message["Subject"] == "Confirm, Léa"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "<a href=" in html.get_content()
    token = link_in(message)
    request_id = read_token(TokenPurpose.SIGNUP_CONFIRM, token)["r"]
    with unit_of_work(factory) as s:
        _request, first = signup.confirm_signup(s, request_id, ip_address="198.51.100.2")
    assert first
    with factory() as s:
        events = s.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
        assert {(e.channel, e.purpose) for e in events} == {
            ("email", "newsletter"),
            ("email", "marketing"),
            ("sms", "newsletter"),
            ("sms", "marketing"),
        }
        for event in events:
            assert event.method == "double_opt_in" and event.state == "granted"
            assert event.proof_text is not None and event.proof_text.startswith(PROOF)
            assert "version 2026-11" in event.proof_text
            assert "203.0.113.7" in event.proof_text and "198.51.100.2" in event.proof_text
            assert event.proof_version == "2026-11" and event.ip_address == "198.51.100.2"
        current = s.scalars(select(ConsentCurrent.state)).all()
        assert current == ["granted"] * 4
        request = s.scalars(select(SignupRequest)).one()
        assert request.confirmed_at is not None and request.confirmed_ip == "198.51.100.2"


def test_confirming_twice_records_nothing_more(
    engine: Engine, factory: sessionmaker[Session], inbox: Inbox
) -> None:
    submit(factory, make_form(factory))
    run_pending(engine)
    request_id = read_token(TokenPurpose.SIGNUP_CONFIRM, link_in(inbox.messages[0]))["r"]
    for expected in (True, False):
        with unit_of_work(factory) as s:
            assert signup.confirm_signup(s, request_id)[1] is expected
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 1


def test_known_address_gets_no_duplicate_and_keeps_its_data(
    engine: Engine, factory: sessionmaker[Session], inbox: Inbox
) -> None:
    with unit_of_work(factory) as s:
        known = contacts.create_person(
            s,
            PersonCreate(
                given_name="Léa",
                family_name="Martin",
                emails=[{"address": "lea.martin@example.org"}],
            ),  # type: ignore[list-item]
        ).id
    form_id = make_form(factory)
    submit(factory, form_id, email="  LEA.MARTIN@example.ORG ", given_name="Mallory")
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 1
        assert s.get(Person, known).given_name == "Léa"  # type: ignore[union-attr]
        assert s.scalars(select(SignupRequest.person_id)).all() == [known]
    run_pending(engine)
    assert len(inbox.messages) == 1
    # A second submission within minutes sends no second email (no mail flooding).
    submit(factory, form_id, email="lea.martin@example.org")
    run_pending(engine)
    assert len(inbox.messages) == 1


def test_confirmation_fills_only_empty_fields(
    engine: Engine, factory: sessionmaker[Session], inbox: Inbox
) -> None:
    with unit_of_work(factory) as s:
        known = contacts.create_person(
            s,
            PersonCreate(family_name="Martin", emails=[{"address": "lea@example.org"}]),  # type: ignore[list-item]
        ).id
    submit(
        factory,
        make_form(factory),
        email="lea@example.org",
        given_name="Léa",
        family_name="Other",
        phone="+33 6 12 34 56 78",
    )
    run_pending(engine)
    request_id = read_token(TokenPurpose.SIGNUP_CONFIRM, link_in(inbox.messages[0]))["r"]
    with unit_of_work(factory) as s:
        signup.confirm_signup(s, request_id)
    with factory() as s:
        person = contacts.get_person(s, known)
        assert (person.given_name, person.family_name) == ("Léa", "Martin")
        assert [p.e164 for p in person.phones] == ["+33612345678"]


def test_invalid_fields_are_named_and_nothing_is_stored(factory: sessionmaker[Session]) -> None:
    form_id = make_form(factory)
    with pytest.raises(ValidationFailed) as caught:
        submit(
            factory,
            form_id,
            email="not-an-email",
            phone="12",
            topics=["unknown"],
            channels=["pigeon"],
        )
    fields = {e["field"] for e in caught.value.errors}
    assert fields == {"email", "phone", "topics", "channels"}
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_template_and_field_injection_stay_text(
    engine: Engine, factory: sessionmaker[Session], inbox: Inbox
) -> None:
    form_id = make_form(factory)
    submit(
        factory,
        form_id,
        email="eve@example.org",
        given_name="{link} <script>alert(1)</script> {{7*7}}",
        family_name="{0.__class__}",
    )
    run_pending(engine)
    message = inbox.messages[0]
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "{link} <script>alert(1)</script> {{7*7}} {0.__class__}" in text
    assert text.count("https://news.example.com/signup/confirm/") == 1
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "49" not in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("No link here", "must contain {link}"),
        ("{link} {given_name.__class__.__mro__}", "unknown placeholder"),
        ("{link} {__import__}", "unknown placeholder"),
    ],
)
def test_unsafe_or_useless_templates_are_refused(body: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        forms.validate_form(
            {
                "slug": "x",
                "title": "X",
                "topics": [{"code": "n", "label": "N", "purpose": "newsletter"}],
                "channels": ["email"],
                "proof_text": PROOF,
                "proof_version": "1",
                "confirm_body": body,
            },
            create=True,
        )
    assert caught.value.errors[0]["field"] == "confirm_body"
    assert message in caught.value.errors[0]["message"]


def test_tampered_foreign_and_expired_tokens_are_refused() -> None:
    token = make_token(TokenPurpose.SIGNUP_CONFIRM, {"r": 1})
    assert read_token(TokenPurpose.SIGNUP_CONFIRM, token) == {"r": 1}
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(TokenInvalid):
        read_token(TokenPurpose.SIGNUP_CONFIRM, tampered)
    with pytest.raises(TokenInvalid):  # a preference token does not confirm a sign-up
        read_token(TokenPurpose.SIGNUP_CONFIRM, make_token(TokenPurpose.PREFERENCES, {"r": 1}))
    old = make_token(
        TokenPurpose.SIGNUP_CONFIRM, {"r": 1}, issued_at=datetime.now(UTC) - timedelta(days=8)
    )
    with pytest.raises(TokenExpired):
        read_token(TokenPurpose.SIGNUP_CONFIRM, old)
    # The same age is fine for a preference link (180 days).
    aged = make_token(
        TokenPurpose.PREFERENCES, {"p": 1}, issued_at=datetime.now(UTC) - timedelta(days=8)
    )
    assert read_token(TokenPurpose.PREFERENCES, aged) == {"p": 1}


def test_fresh_link_resends_the_pending_confirmation_silently(
    engine: Engine, factory: sessionmaker[Session], inbox: Inbox
) -> None:
    submit(factory, make_form(factory))
    run_pending(engine)
    with unit_of_work(factory) as s:
        signup.request_fresh_link(s, "nobody@example.org")
        signup.request_fresh_link(s, "lea.martin@example.org")
    run_pending(engine)
    assert [m["To"] for m in inbox.messages] == ["Lea.Martin@example.org"] * 2
    link_in(inbox.messages[1])
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Email)) == 1


def test_jobs_forget_the_visitors_data_once_done_not_before(
    engine: Engine, factory: sessionmaker[Session], inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    form_id = make_form(factory)
    data = {"email": "lea@example.org", "given_name": "Léa", "topics": ["book-news"],
            "channels": ["email"]}  # fmt: skip
    with unit_of_work(factory) as s:
        form = forms.get_form(s, form_id)
        signup_jobs.queue_signup(s, form, signup.SignupSubmission(**data), ip_address="203.0.113.7")
    port = get_settings().smtp_port
    monkeypatch.setenv("CLOSEDLOOP_SMTP_PORT", str(free_port()))  # the mail server is away
    get_settings.cache_clear()
    run_pending(engine)
    with factory() as s:
        jobs = {j.kind: j for j in s.scalars(select(Job))}
        recorded = jobs["signup.submit"]
        assert recorded.status == "done" and recorded.payload == {}
        request = s.scalars(select(SignupRequest)).one()
        assert recorded.result == {"signup_request_id": request.id}
        assert request.email == "lea@example.org"  # where the visitor's input lives now
        waiting = jobs["email.send"]  # not sent: its message stays for the next attempt
        assert waiting.status == "queued" and waiting.payload["to"] == "lea@example.org"
        assert "/signup/confirm/" in waiting.payload["text"]
    monkeypatch.setenv("CLOSEDLOOP_SMTP_PORT", str(port))
    get_settings.cache_clear()
    with unit_of_work(factory) as s:
        s.execute(update(Job).where(Job.id == waiting.id).values(run_after=None))
    assert run_pending(engine) == 1
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == "lea@example.org"
    with factory() as s:
        sent = s.get(Job, waiting.id)
        assert sent is not None and sent.status == "done" and sent.payload == {}
        assert sent.result is not None and sent.result["message_id"]
        assert sent.result["tags"] == {
            "kind": "signup_confirmation",
            "signup_request_id": request.id,
        }
