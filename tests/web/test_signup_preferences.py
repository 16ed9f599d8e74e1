"""The preference centre over HTTP: own data, per-item toggles, unsubscribe from everything,
RFC 8058 one-click unsubscribe, email change with re-confirmation; each change in the ledger."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import tests.web.test_signup_public as public
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.consent.models import ConsentEvent
from closedloop.consent.tokens import TokenPurpose, read_token
from closedloop.contacts import service as contacts
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.jobs.service import run_pending

inbox = public.inbox  # the sibling module's fixtures: a real SMTP server, a form
form_id = public.form_id


@pytest.fixture()
def prefs(client: TestClient, engine: Engine, inbox: Any, form_id: int) -> Callable[[], str]:
    """Sign Léa up (email: newsletter + marketing), confirm; returns her preference path."""

    def make() -> str:
        path: str = public.confirmed(client, engine, inbox)
        return path

    return make


def events(factory: sessionmaker[Session]) -> list[ConsentEvent]:
    with factory() as s:
        return list(s.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))


def test_preference_centre_shows_own_data_and_is_not_frameable(
    client: TestClient, prefs: Callable[[], str]
) -> None:
    path = prefs()
    page = client.get(path)
    assert page.status_code == 200
    assert 'value="Léa"' in page.text and 'value="lea@example.org"' in page.text
    assert 'id="c-email-newsletter" checked' in page.text
    assert 'id="c-sms-newsletter"' in page.text and 'id="c-sms-newsletter" checked' not in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def _form(page: str, **over: Any) -> dict[str, Any]:
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version
    data: dict[str, Any] = {
        "version": version.group(1),
        "given_name": "Léa",
        "family_name": "",
        "email": "lea@example.org",
        "phone": "",
        "consent": re.findall(r'name="consent" value="([^"]+)"[^>]* checked', page),
    }
    data.update(over)
    return data


def test_toggles_write_the_ledger_with_what_was_shown(
    client: TestClient, factory: sessionmaker[Session], prefs: Callable[[], str]
) -> None:
    path = prefs()
    before = len(events(factory))
    data = _form(client.get(path).text, consent=["email:newsletter", "sms:newsletter"])
    response = client.post(path, data=data, follow_redirects=False)
    assert response.status_code == 303
    new = events(factory)[before:]
    assert {(e.channel, e.purpose, e.state, e.method) for e in new} == {
        ("email", "marketing", "withdrawn", "preference_centre"),
        ("sms", "newsletter", "granted", "preference_centre"),
    }
    grant = next(e for e in new if e.state == "granted")
    assert grant.proof_text is not None
    assert grant.proof_text.startswith("I agree to receive Newsletter by SMS.")
    assert "ticked in the preference centre" in grant.proof_text
    assert grant.ip_address == "testclient"
    page = client.get(path + "?saved=saved")
    assert 'id="notice"' in page.text and 'id="c-sms-newsletter" checked' in page.text
    # Saving the same choices again writes nothing.
    client.post(path, data=_form(page.text))
    assert len(events(factory)) == before + 2


def test_unsubscribe_from_everything(
    client: TestClient, factory: sessionmaker[Session], prefs: Callable[[], str]
) -> None:
    path = prefs()
    response = client.post(path + "/withdraw-all", follow_redirects=False)
    assert response.status_code == 303
    withdrawn = [e for e in events(factory) if e.state == "withdrawn"]
    assert {(e.channel, e.purpose) for e in withdrawn} == {
        ("email", "newsletter"),
        ("email", "marketing"),
    }
    assert all(e.method == "preference_centre" for e in withdrawn)
    assert all("Unsubscribe from everything" in (e.proof_text or "") for e in withdrawn)
    assert set(public.current(factory).values()) == {"withdrawn"}


def test_one_click_unsubscribe_needs_no_session_and_only_posts_change(
    app: Any,
    engine: Engine,
    factory: sessionmaker[Session],
    inbox: Any,
    form_id: int,
    client: TestClient,
) -> None:
    public.confirmed(client, engine, inbox)
    with factory() as s:
        pid = s.scalars(select(Person.id)).one()
    # The preference-link email carries the RFC 8058 headers.
    client.post(
        "/preferences-link",
        data={
            "ticket": public.ticket_of(client.get("/signup/books").text),
            "email": "lea@example.org",
        },
    )
    run_pending(engine)
    message = inbox.messages[-1]
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(public.BASE + "/preferences/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = unsubscribe.removeprefix(public.BASE)
    token = path.removeprefix("/preferences/").removesuffix("/unsubscribe")
    assert read_token(TokenPurpose.PREFERENCES, token) == {"p": pid}
    with TestClient(app) as mail_client:  # no cookie, no CSRF token: like a mail provider
        shown = mail_client.get(path)
        assert shown.status_code == 200 and set(public.current(factory).values()) == {"granted"}
        done = mail_client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and 'id="unsubscribed"' in done.text
    new = [e for e in events(factory) if e.state == "withdrawn"]
    assert {(e.channel, e.method) for e in new} == {("email", "unsubscribe_link")}
    assert len(new) == 2 and set(public.current(factory).values()) == {"withdrawn"}


def test_details_change_through_the_contacts_service(
    client: TestClient, factory: sessionmaker[Session], prefs: Callable[[], str]
) -> None:
    path = prefs()
    page = client.get(path).text
    response = client.post(path, data=_form(page, family_name="Martin", phone="06 12 34 56 78"))
    assert response.status_code == 200
    with factory() as s:
        person = contacts.get_person(s, s.scalars(select(Person.id)).one())
        assert person.family_name == "Martin" and [p.e164 for p in person.phones] == [
            "+33612345678"
        ]
    bad = client.post(path, data=_form(client.get(path).text, phone="12"))
    assert bad.status_code == 422 and 'id="error-summary"' in bad.text
    stale = client.post(path, data=_form(page, family_name="Old"))
    assert stale.status_code == 409


def test_email_change_needs_the_new_address_to_confirm(
    client: TestClient,
    engine: Engine,
    factory: sessionmaker[Session],
    inbox: Any,
    prefs: Callable[[], str],
) -> None:
    path = prefs()
    response = client.post(path, data=_form(client.get(path).text, email="lea.new@example.org"))
    assert response.status_code == 200 and 'id="notice"' in response.text
    run_pending(engine)
    assert inbox.messages[-1]["To"] == "lea.new@example.org"
    with factory() as s:
        pid = s.scalars(select(Person.id)).one()
        assert [e.address for e in contacts.get_person(s, pid).emails] == ["lea@example.org"]
    link = inbox.link("/email-change/")
    assert client.get(link).status_code == 200
    for _ in range(2):  # confirming twice is harmless
        done = client.post(link)
        assert done.status_code == 200 and 'id="email-changed"' in done.text
    with factory() as s:
        person = contacts.get_person(s, pid)
        assert [(e.address, e.is_primary) for e in person.emails] == [("lea.new@example.org", True)]
    assert client.get(link[:-2] + "zz").status_code == 400


def test_preference_token_of_a_merged_person_opens_the_golden_record(
    client: TestClient, factory: sessionmaker[Session], prefs: Callable[[], str]
) -> None:
    path = prefs()
    with unit_of_work(factory) as s:
        golden = contacts.create_person(s, PersonCreate(given_name="Golden")).id
        source = s.scalars(select(Person).where(Person.id != golden)).one()
        source.merged_into_id = golden
    assert 'value="Golden"' in client.get(path).text


def test_french_page_keeps_the_french_sentence_as_proof(
    client: TestClient, factory: sessionmaker[Session], prefs: Callable[[], str]
) -> None:
    path = prefs()
    french = {"Accept-Language": "fr-FR"}
    page = client.get(path, headers=french)
    assert "Vos préférences" in page.text and "Me désinscrire de tout" in page.text
    data = _form(page.text, consent=["email:newsletter", "email:marketing", "sms:marketing"])
    client.post(path, data=data, headers=french)
    grant = events(factory)[-1]
    assert grant.proof_text is not None
    assert grant.proof_text.startswith("J’accepte de recevoir Marketing par SMS.")
    form = client.get("/signup/books", headers=french).text
    assert "S’inscrire" in form and "Que souhaitez-vous recevoir ?" in form
