"""The persons list: one search box over names, emails, phones and postal codes, in any script."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work


def _names(html: str) -> set[str]:
    return set(re.findall(r'<a href="/persons/\d+">([^<]+)</a>', html))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dupont", {"Jean Dupont"}),
        ("Jean Dupont", {"Jean Dupont"}),
        ("jean.dupont@example.com", {"Jean Dupont"}),
        ("JEAN.DUPONT@", {"Jean Dupont"}),
        ("06 12 34 56 78", {"Jean Dupont"}),
        ("+33612345678", {"Jean Dupont"}),
        ("75011", {"Jean Dupont"}),
        ("Ștefănescu", {"Ana Ștefănescu"}),
        ("stefanescu", {"Ana Ștefănescu"}),
        ("STEFANESCU ana", {"Ana Ștefănescu"}),
        ("+40 721 234 567", {"Ana Ștefănescu"}),
        ("010011", {"Ana Ștefănescu"}),
        ("王伟", {"王伟"}),
        ("王", {"王伟"}),
        ("wang.wei@example.cn", {"王伟"}),
        ("nobody-like-this", set()),
        ("", {"Jean Dupont", "Ana Ștefănescu", "王伟"}),
    ],
)
def test_search_finds_the_right_person(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    query: str,
    expected: set[str],
) -> None:
    logged_in("agent")
    response = client.get("/persons", params={"q": query})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert _names(response.text) == expected
    if not expected:
        assert "No person matches your search." in response.text


def test_results_show_contacts_and_lifecycle(
    client: TestClient, logged_in: Callable[..., TestClient], people: dict[str, int]
) -> None:
    logged_in("agent")
    html = client.get("/persons", params={"q": "dupont"}).text
    assert f'href="/persons/{people["Dupont"]}"' in html
    assert "jean.dupont@example.com" in html
    assert "+33 6 12 34 56 78" in html
    assert "75011 Paris" in html
    assert "Customer" in html
    assert "1 person" in html
    chinese = client.get("/persons", params={"q": "王伟"}).text
    assert "100000 北京" in chinese


def test_lifecycle_filter(
    client: TestClient, logged_in: Callable[..., TestClient], people: dict[str, int]
) -> None:
    logged_in("agent")
    customers = client.get("/persons", params={"status": "customer"}).text
    assert _names(customers) == {"Jean Dupont"}
    prospects = client.get("/persons", params={"status": "prospect"}).text
    assert _names(prospects) == {"Ana Ștefănescu", "王伟"}
    assert 'value="prospect" selected' in prospects
    # An unknown status is ignored rather than an error.
    assert len(_names(client.get("/persons", params={"status": "bogus"}).text)) == 3


def test_paging_and_exact_totals(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOSEDLOOP_PAGE_SIZE", "2")
    from closedloop.settings import get_settings

    get_settings.cache_clear()
    with unit_of_work(factory) as s:
        for i in range(5):
            contacts_service.create_person(
                s, PersonCreate(given_name=f"P{i}", family_name=f"Martin{i}")
            )
    try:
        logged_in("agent")
        first = client.get("/persons", params={"q": "martin"}).text
        assert _names(first) == {"P0 Martin0", "P1 Martin1"}
        assert "5 persons" in first and "+" not in first.split("persons")[0][-12:]
        with unit_of_work(factory) as s:  # merged records are not counted
            extra = contacts_service.create_person(s, PersonCreate(family_name="Zed"))
            s.flush()
            extra.merged_into_id = s.scalars(select(Person.id).limit(1)).first()
        assert "5 persons" in client.get("/persons").text  # the whole base, on indexes
        assert 'rel="next"' in first and 'rel="prev"' not in first
        third = client.get("/persons", params={"q": "martin", "page": "3"}).text
        assert _names(third) == {"P4 Martin4"}
        assert 'rel="prev"' in third
        assert client.get("/persons", params={"page": "abc"}).status_code == 200
    finally:
        get_settings.cache_clear()


def test_search_as_you_type_gets_results_only(
    client: TestClient, logged_in: Callable[..., TestClient], people: dict[str, int]
) -> None:
    logged_in("agent")
    response = client.get(
        "/persons", params={"q": "stef"}, headers={"X-Requested-With": "closedloop"}
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert _names(response.text) == {"Ana Ștefănescu"}


def test_search_text_is_escaped(
    client: TestClient, logged_in: Callable[..., TestClient], people: dict[str, int]
) -> None:
    logged_in("agent")
    html = client.get("/persons", params={"q": '"><script>alert(1)</script>'}).text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html
