"""The primary postal address edited from the person's edit form: saved, audited, and a bad
country named next to its field."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts_service
from closedloop.users.models import AuditEvent


def test_address_is_edited_from_the_form(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("agent")
    pid = people["Dupont"]
    data = web.edit_form(client, pid)
    assert data["address_line1"] == "12 rue de la Roquette"
    assert data["postal_code"] == "75011" and data["locality"] == "Paris"
    assert data["country"] == "FR"
    data.update(address_line1="3 place Bellecour", postal_code="69002", locality="Lyon")
    response = client.post(f"/persons/{pid}/edit", data=data, follow_redirects=False)
    assert response.status_code == 303
    card = client.get(f"/persons/{pid}").text
    assert "3 place Bellecour" in card and "Lyon" in card
    with factory() as s:
        person = contacts_service.get_person(s, pid)
        [address] = person.addresses
        assert (address.line1, address.postal_code, address.locality, address.country) == (
            "3 place Bellecour",
            "69002",
            "Lyon",
            "FR",
        )
        # The old coordinates belonged to Paris: they are not carried to Lyon.
        assert address.latitude is None
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "updated")).one()
        assert event.detail == {"fields": ["address_line1", "postal_code", "locality"]}


def test_unchanged_form_keeps_the_address(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("agent")
    pid = people["Dupont"]
    with factory() as s:
        before = contacts_service.get_person(s, pid).addresses[0].id
    data = web.edit_form(client, pid)
    data["given_name"] = "Jeannot"
    assert client.post(f"/persons/{pid}/edit", data=data, follow_redirects=False).status_code == 303
    with factory() as s:
        [address] = contacts_service.get_person(s, pid).addresses
        assert address.id == before and address.latitude == 48.8553


def test_bad_country_is_named_next_to_its_field(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("agent")
    pid = people["Dupont"]
    data = web.edit_form(client, pid)
    data.update(country="France", locality="Lyon")
    response = client.post(f"/persons/{pid}/edit", data=data, follow_redirects=False)
    assert response.status_code == 422
    assert 'href="#f-country"' in response.text
    assert "Use a two-letter country code such as FR or RO." in response.text
    assert 'value="Lyon"' in response.text  # the input is kept
    with factory() as s:
        assert contacts_service.get_person(s, pid).addresses[0].locality == "Paris"
