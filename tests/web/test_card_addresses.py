"""Every postal address of a person (not only the primary one) added, changed and removed
from the card (issue 14, item 16): saved and shown, a bad country named next to its field,
a stale form refused, and a role that may not edit persons refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts_service
from closedloop.users.models import AuditEvent


def _places(factory: sessionmaker[Session], pid: int) -> list[tuple[object, ...]]:
    with factory() as s:
        person = contacts_service.get_person(s, pid)
        return [
            (a.line1, a.postal_code, a.locality, a.country, a.kind, a.is_primary)
            for a in person.addresses
        ]


def _form(client: TestClient, url: str) -> dict[str, str]:
    page = client.get(url).text
    data = dict(
        re.findall(r'<input id="ad-[^"]+" name="([^"]+)" type="text"[^>]* value="([^"]*)"', page)
    )
    data["version"] = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    data["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    chosen = re.search(r'<option value="(\w+)" selected', page)
    data["kind"] = chosen.group(1) if chosen else "private"
    return data


def test_a_second_address_is_added_changed_and_removed(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
) -> None:
    pid = people["Dupont"]
    logged_in("agent")
    assert 'id="add-address"' in client.get(f"/persons/{pid}").text
    data = _form(client, f"/persons/{pid}/addresses/new")
    data.update(
        line1="5 quai des Chartrons",
        postal_code="33000",
        locality="Bordeaux",
        country="fr",
        kind="work",
    )
    added = client.post(f"/persons/{pid}/addresses", data=data, follow_redirects=False)
    assert added.status_code == 303, added.text
    assert _places(factory, pid) == [
        ("12 rue de la Roquette", "75011", "Paris", "FR", "private", True),
        ("5 quai des Chartrons", "33000", "Bordeaux", "FR", "work", False),
    ]
    card = client.get(f"/persons/{pid}").text
    assert "5 quai des Chartrons" in card and "The address was saved." in card
    second = re.findall(rf'href="/persons/{pid}/addresses/(\d+)/edit"', card)[1]
    data = _form(client, f"/persons/{pid}/addresses/{second}/edit")
    assert data["line1"] == "5 quai des Chartrons" and data["kind"] == "work"
    data.update(line1="7 cours de l'Intendance")
    changed = client.post(f"/persons/{pid}/addresses/{second}", data=data, follow_redirects=False)
    assert changed.status_code == 303
    assert _places(factory, pid)[1][:3] == ("7 cours de l'Intendance", "33000", "Bordeaux")
    assert _places(factory, pid)[1][5] is False  # still the secondary one
    card = client.get(f"/persons/{pid}").text
    second = re.findall(rf'action="/persons/{pid}/addresses/(\d+)/remove"', card)[1]
    version = re.search(r'name="version" value="(\d+)"', card).group(1)  # type: ignore[union-attr]
    token = re.search(r'name="csrf_token" value="([^"]+)"', card).group(1)  # type: ignore[union-attr]
    removed = client.post(
        f"/persons/{pid}/addresses/{second}/remove",
        data={"csrf_token": token, "version": version},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert _places(factory, pid) == [
        ("12 rue de la Roquette", "75011", "Paris", "FR", "private", True)
    ]
    with factory() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(pid))))
    assert {"address_added", "address_changed", "address_removed"} <= actions


def test_bad_address_fields_are_named_and_a_stale_form_is_refused(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    pid = people["Dupont"]
    logged_in("marketer")
    first = _form(client, f"/persons/{pid}/addresses/new")
    bad = client.post(
        f"/persons/{pid}/addresses", data={**first, "locality": "Lyon", "country": "France"}
    )
    assert bad.status_code == 422
    assert 'id="country-error">Use a two-letter country code such as FR or RO.' in bad.text
    assert 'value="France"' in bad.text
    empty = client.post(f"/persons/{pid}/addresses", data={**first, "country": "FR"})
    assert empty.status_code == 422
    assert 'id="line1-error">Give at least a street, a postal code or a town.' in empty.text
    long = client.post(f"/persons/{pid}/addresses", data={**first, "locality": "x" * 201})
    assert 'id="locality-error">This text is too long.' in long.text
    # Someone else changes the person after the form was read: the old form is refused.
    fresh = _form(client, f"/persons/{pid}/addresses/new")
    assert (
        client.post(
            f"/persons/{pid}/addresses", data={**fresh, "locality": "Lyon", "country": "FR"}
        ).status_code
        == 200
    )
    stale = client.post(
        f"/persons/{pid}/addresses", data={**first, "locality": "Nantes", "country": "FR"}
    )
    assert stale.status_code == 422
    assert "Someone changed this person meanwhile" in stale.text
    assert [p[2] for p in _places(factory, pid)] == ["Paris", "Lyon"]


def test_a_role_that_may_not_edit_persons_may_not_touch_addresses(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    pid = people["Dupont"]
    with factory() as s:
        [address] = contacts_service.get_person(s, pid).addresses
        aid, version = address.id, contacts_service.get_person(s, pid).version
    logged_in("analyst")
    card = client.get(f"/persons/{pid}").text
    assert "/addresses/" not in card
    token = web.page_token(client, "/")
    form = {"csrf_token": token, "version": str(version), "locality": "Lyon", "country": "FR"}
    assert client.get(f"/persons/{pid}/addresses/new").status_code == 403
    assert client.get(f"/persons/{pid}/addresses/{aid}/edit").status_code == 403
    assert client.post(f"/persons/{pid}/addresses", data=form).status_code == 403
    assert client.post(f"/persons/{pid}/addresses/{aid}", data=form).status_code == 403
    assert client.post(f"/persons/{pid}/addresses/{aid}/remove", data=form).status_code == 403
    assert _places(factory, pid) == [
        ("12 rue de la Roquette", "75011", "Paris", "FR", "private", True)
    ]
