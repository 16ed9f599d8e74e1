"""The identity edit form: saving, errors next to their fields, and no lost update."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import Email
from closedloop.contacts.schemas import PersonUpdate
from closedloop.db.uow import unit_of_work
from closedloop.users.models import AuditEvent


def test_edit_saves_and_is_audited(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("agent")
    pid = people["Dupont"]
    with factory() as s:
        phone_id = contacts_service.get_person(s, pid).phones[0].id
    data = web.edit_form(client, pid)
    assert data["given_name"] == "Jean" and data["version"] == "1"
    assert data["lifecycle_status"] == "customer"
    data.update(
        given_name="Ștefan",
        family_name="Dupont-Ionescu",
        birth_date="1980-02-29",
        email="s.dupont@example.org",
        preferred_channel="sms",
    )
    response = client.post(f"/persons/{pid}/edit", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/persons/{pid}"
    card = client.get(f"/persons/{pid}").text
    assert "Changes saved." in card
    assert "<h1>Ștefan Dupont-Ionescu</h1>" in card
    with factory() as s:
        person = contacts_service.get_person(s, pid)
        assert person.version == 2
        assert person.given_name == "Ștefan"
        assert str(person.birth_date) == "1980-02-29"
        assert [e.address for e in person.emails] == ["s.dupont@example.org"]
        # The phone was not touched, so it was not replaced.
        assert [p.id for p in person.phones] == [phone_id]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "updated")).one()
        assert event.entity_id == str(pid)
        assert event.detail == {
            "fields": ["given_name", "family_name", "birth_date", "preferred_channel", "email"]
        }
    # The new name is found by its unaccented form.
    assert "Ștefan Dupont-Ionescu" in client.get("/persons", params={"q": "stefan dupont"}).text


def test_chinese_names_round_trip(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("agent")
    pid = people["王"]
    data = web.edit_form(client, pid)
    data.update(given_name="小明", family_name="欧阳")
    assert client.post(f"/persons/{pid}/edit", data=data).status_code == 200
    with factory() as s:
        person = contacts_service.get_person(s, pid)
        assert (person.family_name, person.given_name) == ("欧阳", "小明")
    assert ">欧阳小明</a>" in client.get("/persons", params={"q": "欧阳小明"}).text


def test_errors_are_shown_next_to_each_field_and_nothing_is_saved(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("agent")
    pid = people["Dupont"]
    data = web.edit_form(client, pid)
    data.update(
        given_name="Jacques",
        email="not-an-email",
        birth_date="2999-01-01",
        language="french",
        phone="12",
    )
    response = client.post(f"/persons/{pid}/edit", data=data)
    assert response.status_code == 422
    html = response.text
    assert "Please correct the marked fields" in html
    for field, message in [
        ("email", "This is not a valid email address."),
        ("birth_date", "The birth date is in the future."),
        ("language", "Use a language code such as fr or fr-FR."),
        ("phone", "This is not a valid phone number."),
    ]:
        block = re.search(rf'<input id="f-{field}".*?</div>', html, re.S)
        assert block, field
        assert 'aria-invalid="true"' in block.group(0)
        assert f'<ul class="field-errors" id="{field}-error">' in block.group(0)
        assert message in block.group(0)
    assert 'value="Jacques"' in html and 'value="not-an-email"' in html
    with factory() as s:
        person = contacts_service.get_person(s, pid)
        assert person.given_name == "Jean" and person.version == 1


def test_service_validation_error_keeps_nothing(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    pid = people["Dupont"]
    # A second address stored long ago that today's check refuses: the service rejects the new
    # list of emails after it has already set the names; none of it may be stored.
    with unit_of_work(factory) as s:
        s.add(Email(person_id=pid, address="old@@legacy", address_key="old@@legacy"))
    logged_in("agent")
    data = web.edit_form(client, pid)
    data.update(given_name="Jacques", email="jacques@example.org")
    response = client.post(f"/persons/{pid}/edit", data=data)
    assert response.status_code == 422
    assert "This is not a valid email address." in response.text
    assert 'value="Jacques"' in response.text
    with factory() as s:
        person = contacts_service.get_person(s, pid)
        assert person.given_name == "Jean" and person.version == 1
        assert {e.address for e in person.emails} == {"jean.dupont@example.com", "old@@legacy"}


def test_stale_version_shows_a_conflict_and_loses_nothing(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("agent")
    pid = people["Dupont"]
    data = web.edit_form(client, pid)
    # Meanwhile a colleague changes the person.
    with unit_of_work(factory) as s:
        contacts_service.update_person(
            s, pid, PersonUpdate(version=1, family_name="Durand", preferred_time="morning")
        )
    data.update(given_name="Jeannot", salutation="M.")
    response = client.post(f"/persons/{pid}/edit", data=data)
    assert response.status_code == 409
    html = response.text
    assert "Someone else changed this person meanwhile" in html
    assert "Your changes were not saved" in html
    # The user's input is kept, the stored values are shown, the form now carries version 2.
    assert 'value="Jeannot"' in html and 'value="M."' in html
    assert "Stored now: <strong>Durand</strong>" in html
    assert 'name="version" value="2"' in html
    with factory() as s:
        person = contacts_service.get_person(s, pid)
        assert (person.given_name, person.family_name, person.version) == ("Jean", "Durand", 2)
    # Saving again is a deliberate choice, made with the current version.
    resend = dict(data, version="2", csrf_token=web.csrf_from(html))
    assert (
        client.post(f"/persons/{pid}/edit", data=resend, follow_redirects=False).status_code == 303
    )
    with factory() as s:
        person = contacts_service.get_person(s, pid)
        assert (person.given_name, person.version) == ("Jeannot", 3)


def test_missing_version_is_a_bad_request(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    web: SimpleNamespace,
) -> None:
    logged_in("agent")
    pid = people["Dupont"]
    data = web.edit_form(client, pid)
    del data["version"]
    assert client.post(f"/persons/{pid}/edit", data=data).status_code == 400
