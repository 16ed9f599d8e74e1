"""The public pages over HTTP: sign-up form, double opt-in, preference centre, one-click
unsubscribe, email change, bad links. A real SMTP server (aiosmtpd) receives the emails."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.mail import Inbox, smtp_server

from closedloop.bootstrap import metadata
from closedloop.consent import forms
from closedloop.consent.models import ConsentCurrent, ConsentEvent, SignupRequest
from closedloop.consent.tokens import TokenPurpose, make_token
from closedloop.contacts import service as contacts
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending
from closedloop.settings import get_settings

PROOF = "Oui, envoyez-moi les nouveautés par e-mail. Je peux me désinscrire à tout moment."
BASE = "http://testserver"


@pytest.fixture()
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server; sign-up settings for the tests (no minimal time unless asked)."""
    with smtp_server(
        monkeypatch,
        BASE,
        SIGNUP_MIN_SECONDS="0",
        SIGNUP_FRAME_ANCESTORS="https://www.example.com, not a url",
    ) as handler:
        yield handler


@pytest.fixture()
def form_id(factory: sessionmaker[Session]) -> int:
    """A form offering two topics by email and SMS."""
    values = {
        "slug": "books",
        "title": "Nouveautés",
        "intro": "Les livres du mois.",
        "topics": [
            {"code": "book-news", "label": "Book news", "purpose": "newsletter"},
            {"code": "offers", "label": "Offers", "purpose": "marketing"},
        ],
        "channels": ["email", "sms"],
        "proof_text": PROOF,
        "proof_version": "v4",
    }
    with unit_of_work(factory) as s:
        data = forms.validate_form(values, create=True)
        assert isinstance(data, forms.SignupFormCreate)
        return forms.create_form(s, data).id


def ticket_of(html: str) -> str:
    found = re.search(r'name="ticket" value="([^"]+)"', html)
    assert found
    return found.group(1)


def sign_up(client: TestClient, **fields: Any) -> Any:
    page = client.get("/signup/books")
    assert page.status_code == 200
    data: dict[str, Any] = {
        "ticket": ticket_of(page.text),
        "email": "lea@example.org",
        "given_name": "Léa",
        "topics": ["book-news", "offers"],
        "channels": ["email"],
        "website": "",
    }
    data.update(fields)
    return client.post("/signup/books", data=data)


def confirmed(client: TestClient, engine: Engine, inbox: Inbox) -> str:
    """Sign up, send the email, confirm with its link; returns the preference-centre path."""
    assert sign_up(client).status_code == 200
    run_pending(engine)
    link = inbox.link("/signup/confirm/")
    assert client.get(link).status_code == 200
    done = client.post(link)
    assert done.status_code == 200, done.text
    found = re.search(r'href="' + re.escape(BASE) + r'(/preferences/[^"]+)"', done.text)
    assert found
    return found.group(1)


def ledger(factory: sessionmaker[Session]) -> list[tuple[str, str, str, str]]:
    with factory() as s:
        rows = s.execute(
            select(
                ConsentEvent.channel, ConsentEvent.purpose, ConsentEvent.state, ConsentEvent.method
            ).order_by(ConsentEvent.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def current(factory: sessionmaker[Session]) -> dict[tuple[str, str], str]:
    with factory() as s:
        rows = s.execute(
            select(ConsentCurrent.channel, ConsentCurrent.purpose, ConsentCurrent.state)
        ).all()
    return {(c, p): state for c, p, state in rows}


def test_form_is_public_and_embeddable_only_where_allowed(
    client: TestClient, inbox: Inbox, form_id: int
) -> None:
    page = client.get("/signup/books")
    assert page.status_code == 200
    assert PROOF in page.text and 'name="website"' in page.text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://www.example.com;" in csp
    assert "not" not in csp.split("frame-ancestors")[1].split(";")[0]
    assert "x-frame-options" not in page.headers
    assert client.get("/signup/unknown").status_code == 404


def test_signup_then_confirm_grants_each_channel_and_purpose(
    client: TestClient, engine: Engine, factory: sessionmaker[Session], inbox: Inbox, form_id: int
) -> None:
    response = sign_up(client, channels=["email", "sms"], phone="+33 6 12 34 56 78")
    assert response.status_code == 200 and 'id="sent"' in response.text
    assert ledger(factory) == []
    assert run_pending(engine) == 2  # signup.submit records it and queues its email.send
    assert inbox.messages[0]["To"] == "lea@example.org"
    link = inbox.link("/signup/confirm/")
    page = client.get(link)
    assert ledger(factory) == []  # opening the link (a mail scanner) confirms nothing
    assert "Book news" in page.text and 'id="confirm"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert client.post(link).status_code == 200
    assert sorted(ledger(factory)) == sorted(
        (c, p, "granted", "double_opt_in")
        for c in ("email", "sms")
        for p in ("newsletter", "marketing")
    )
    with factory() as s:
        proofs = s.scalars(select(ConsentEvent.proof_text)).all()
        assert all(p and p.startswith(PROOF) and "version v4" in p for p in proofs)
    # Confirming again is harmless, and says so.
    again = client.post(link)
    assert again.status_code == 200 and len(ledger(factory)) == 4
    assert "already confirmed" in client.get(link).text


def test_redirect_after_confirmation(
    client: TestClient, engine: Engine, factory: sessionmaker[Session], inbox: Inbox, form_id: int
) -> None:
    with unit_of_work(factory) as s:
        form = forms.get_form(s, form_id)
        form.redirect_url = "https://www.example.com/merci"
    sign_up(client)
    run_pending(engine)
    link = inbox.link("/signup/confirm/")
    page = client.get(link)
    assert "form-action 'self' https://www.example.com;" in page.headers["content-security-policy"]
    response = client.post(link, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "https://www.example.com/merci"


def test_known_email_same_answer_no_duplicate(
    client: TestClient, engine: Engine, factory: sessionmaker[Session], inbox: Inbox, form_id: int
) -> None:
    with unit_of_work(factory) as s:
        contacts.create_person(
            s,
            PersonCreate.model_validate(
                {"given_name": "Léa", "emails": [{"address": "known@example.org"}]}
            ),
        )
    new = sign_up(client, email="new@example.org")
    known = sign_up(client, email="KNOWN@example.org", given_name="Mallory")
    assert new.status_code == known.status_code == 200
    assert new.text == known.text
    run_pending(engine)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 2
        assert s.scalars(select(Person.given_name).order_by(Person.id)).all() == ["Léa", "Léa"]


def test_honeypot_pretends_success_and_stores_nothing(
    client: TestClient, factory: sessionmaker[Session], inbox: Inbox, form_id: int
) -> None:
    response = sign_up(client, website="http://spam.example")
    assert response.status_code == 200 and 'id="sent"' in response.text
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_form_sent_too_fast_or_without_ticket_is_refused(
    client: TestClient,
    factory: sessionmaker[Session],
    inbox: Inbox,
    form_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOSEDLOOP_SIGNUP_MIN_SECONDS", "3")
    get_settings.cache_clear()
    fast = sign_up(client)
    assert fast.status_code == 400 and 'id="notice"' in fast.text
    assert 'value="lea@example.org"' in fast.text  # the entries are kept
    forged = sign_up(client, ticket="forged")
    assert forged.status_code == 400
    other_form = make_token(
        TokenPurpose.FORM_TICKET,
        {"f": form_id + 1},
        issued_at=datetime.now(UTC) - timedelta(seconds=30),
    )
    assert sign_up(client, ticket=other_form).status_code == 400
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0
    old = make_token(
        TokenPurpose.FORM_TICKET,
        {"f": form_id},
        issued_at=datetime.now(UTC) - timedelta(seconds=30),
    )
    assert sign_up(client, ticket=old).status_code == 200
    with factory() as s:
        assert s.scalars(select(Job.kind)).all() == ["signup.submit"]


def test_invalid_fields_are_shown_and_injection_is_text(
    client: TestClient, factory: sessionmaker[Session], inbox: Inbox, form_id: int
) -> None:
    response = sign_up(client, email="nope", topics=[], given_name='"><script>x()</script>')
    assert response.status_code == 422
    assert 'id="email-error"' in response.text and 'id="topics-error"' in response.text
    assert "<script>x()" not in response.text and "&lt;script&gt;" in response.text
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0


def test_tampered_and_expired_links_explain_and_offer_a_new_one(
    client: TestClient, engine: Engine, inbox: Inbox, form_id: int
) -> None:
    sign_up(client)
    run_pending(engine)
    link = inbox.link("/signup/confirm/")
    tampered = client.get(link[:-3] + "xyz")
    assert tampered.status_code == 400 and 'action="/preferences-link"' in tampered.text
    assert client.post(link[:-3] + "xyz").status_code == 400
    expired = make_token(
        TokenPurpose.SIGNUP_CONFIRM, {"r": 1}, issued_at=datetime.now(UTC) - timedelta(days=8)
    )
    page = client.get("/signup/confirm/" + expired)
    assert page.status_code == 410 and 'id="link-error"' in page.text
    old_prefs = make_token(
        TokenPurpose.PREFERENCES, {"p": 1}, issued_at=datetime.now(UTC) - timedelta(days=181)
    )
    assert client.get("/preferences/" + old_prefs).status_code == 410
    assert client.post(f"/preferences/{old_prefs}/unsubscribe").status_code == 410
    # Asking for a new link answers the same for a known and an unknown address.
    ticket = ticket_of(page.text)
    known = client.post("/preferences-link", data={"ticket": ticket, "email": "lea@example.org"})
    unknown = client.post("/preferences-link", data={"ticket": ticket, "email": "x@example.org"})
    assert known.status_code == unknown.status_code == 200 and known.text == unknown.text
    run_pending(engine)
    assert [m["To"] for m in inbox.messages] == ["lea@example.org"] * 2
    assert client.get(inbox.link("/signup/confirm/")).status_code == 200


def row_counts(engine: Engine) -> dict[str, int]:
    """How many rows every table of the store holds."""
    with engine.connect() as conn:
        return {
            t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
            for t in metadata().sorted_tables
        }


def request_effects(engine: Engine, send: Callable[[], Any]) -> tuple[Any, dict[str, int]]:
    """The response of ``send()`` and the rows it added or removed, by table."""
    before = row_counts(engine)
    response = send()
    after = row_counts(engine)
    return response, {
        name: after[name] - before[name] for name in after if after[name] != before[name]
    }


def answer(response: Any) -> tuple[int, str, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k not in {"date", "set-cookie"}}
    return response.status_code, response.text, headers


def test_known_and_new_address_get_the_same_answer_and_the_same_writes(
    client: TestClient, engine: Engine, factory: sessionmaker[Session], inbox: Inbox, form_id: int
) -> None:
    with unit_of_work(factory) as s:
        known_id = contacts.create_person(
            s, PersonCreate.model_validate({"emails": [{"address": "known@example.org"}]})
        ).id
    new, new_rows = request_effects(engine, lambda: sign_up(client, email="new@example.org"))
    known, known_rows = request_effects(engine, lambda: sign_up(client, email="KNOWN@example.org"))
    assert answer(new) == answer(known) and new.status_code == 200
    # The request only queued a job: no person looked up or created, no request row yet.
    assert new_rows == known_rows == {"jobs": 1}
    with factory() as s:
        jobs = s.scalars(select(Job).order_by(Job.id)).all()
        assert [j.kind for j in jobs] == ["signup.submit"] * 2
        assert jobs[0].payload.keys() == jobs[1].payload.keys()
        assert [j.payload["email"] for j in jobs] == ["new@example.org", "KNOWN@example.org"]
    assert run_pending(engine) == 4  # each job records its request and queues its email
    assert sorted(m["To"] for m in inbox.messages) == ["KNOWN@example.org", "new@example.org"]
    with factory() as s:
        requests = {r.email: r for r in s.scalars(select(SignupRequest))}
        assert requests["KNOWN@example.org"].person_id == known_id  # found, not duplicated
        new_person = s.get(Person, requests["new@example.org"].person_id)
        assert new_person is not None and new_person.lifecycle_status == "prospect"
        assert s.scalar(select(func.count()).select_from(Person)) == 2
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 0  # not confirmed


def test_fresh_link_request_does_the_same_work_for_any_address(
    client: TestClient, engine: Engine, factory: sessionmaker[Session], inbox: Inbox, form_id: int
) -> None:
    confirmed(client, engine, inbox)  # lea@example.org is known
    ticket = ticket_of(client.get("/signup/books").text)

    def ask(email: str) -> Any:
        return client.post("/preferences-link", data={"ticket": ticket, "email": email})

    known, known_rows = request_effects(engine, lambda: ask("lea@example.org"))
    unknown, unknown_rows = request_effects(engine, lambda: ask("nobody@example.org"))
    assert answer(known) == answer(unknown) and known.status_code == 200
    # One job and two throttle hits (the client's, the address's): the same for both.
    assert known_rows == unknown_rows == {"jobs": 1, "rate_limit_hits": 2}
    sent = len(inbox.messages)
    run_pending(engine)
    assert [m["To"] for m in inbox.messages[sent:]] == ["lea@example.org"]
    # Something that is no address at all queues nothing, whoever asks.
    _, rows = request_effects(engine, lambda: ask("not an address"))
    assert rows == {"rate_limit_hits": 1}  # the client's request is counted all the same
