"""CSRF protection of every form, and what each role may see and change."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts_service
from closedloop.users.models import User


def _edit_data(token: str | None, **fields: str) -> dict[str, str]:
    data = {
        "version": "1",
        "given_name": "Hacked",
        "family_name": "Dupont",
        "lifecycle_status": "customer",
        "email": "jean.dupont@example.com",
        "phone": "+33 6 12 34 56 78",
    }
    if token is not None:
        data["csrf_token"] = token
    data.update(fields)
    return data


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_post_without_valid_csrf_token_is_refused_and_changes_nothing(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    token: str | None,
) -> None:
    logged_in("admin")
    pid = people["Dupont"]
    response = client.post(f"/persons/{pid}/edit", data=_edit_data(token), follow_redirects=False)
    assert response.status_code == 403
    assert "Form expired" in response.text
    assert response.headers["content-type"].startswith("text/html")
    with factory() as s:
        person = contacts_service.get_person(s, pid)
        assert person.given_name == "Jean" and person.version == 1


def test_csrf_token_is_accepted_as_header(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("admin")
    pid = people["Dupont"]
    token = web.page_token(client, f"/persons/{pid}/edit")
    response = client.post(
        f"/persons/{pid}/edit",
        data=_edit_data(None, given_name="Jeannot"),
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with factory() as s:
        assert contacts_service.get_person(s, pid).given_name == "Jeannot"


def test_token_of_another_session_is_refused(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    app: object,
    web: SimpleNamespace,
) -> None:
    with TestClient(app) as other:  # type: ignore[arg-type]
        foreign = web.page_token(other, "/login")
    logged_in("admin")
    pid = people["Dupont"]
    response = client.post(f"/persons/{pid}/edit", data=_edit_data(foreign))
    assert response.status_code == 403


def test_login_form_needs_its_token(client: TestClient, make_user: Callable[..., str]) -> None:
    make_user("admin", "admin")
    response = client.post(
        "/login", data={"username": "admin", "password": "admin-password1"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303


def test_logout_and_language_need_the_token(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    logged_in("admin")
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200
    assert client.post("/locale", data={"locale": "fr"}).status_code == 403
    with factory() as s:
        assert s.scalars(select(User.locale).where(User.username == "admin")).one() is None


@pytest.mark.parametrize("role", ["admin", "marketer", "analyst", "agent"])
def test_every_role_reads_persons_and_cards(
    client: TestClient, logged_in: Callable[..., TestClient], people: dict[str, int], role: str
) -> None:
    logged_in(role)
    assert client.get("/persons").status_code == 200
    assert client.get(f"/persons/{people['Dupont']}").status_code == 200


@pytest.mark.parametrize(
    ("role", "can_edit"), [("admin", True), ("marketer", True), ("agent", True), ("analyst", False)]
)
def test_only_writing_roles_edit(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    role: str,
    can_edit: bool,
    web: SimpleNamespace,
) -> None:
    logged_in(role)
    pid = people["Dupont"]
    card = client.get(f"/persons/{pid}")
    assert (f'href="/persons/{pid}/edit"' in card.text) is can_edit
    form = client.get(f"/persons/{pid}/edit")
    if not can_edit:
        assert form.status_code == 403
        assert "Access denied" in form.text
        token = web.csrf_from(card.text)
        response = client.post(f"/persons/{pid}/edit", data=_edit_data(token))
        assert response.status_code == 403
        with factory() as s:
            assert contacts_service.get_person(s, pid).given_name == "Jean"
    else:
        assert form.status_code == 200


def test_unknown_person_gives_a_404_page(
    client: TestClient, logged_in: Callable[..., TestClient]
) -> None:
    logged_in("admin")
    response = client.get("/persons/999999")
    assert response.status_code == 404
    assert "This page or record does not exist." in response.text
    assert client.get("/persons/999999/edit").status_code == 404
