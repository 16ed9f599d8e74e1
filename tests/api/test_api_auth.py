"""Bearer tokens and role permissions: 401 says nothing about accounts, 403 names the right."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.users import service as users_service
from closedloop.users.models import ApiToken, User

PERSONS = "/api/v1/persons"
Auth = Callable[..., dict[str, str]]


def _unauthorized(response: Any) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body: dict[str, Any] = response.json()
    return body


def test_missing_bad_revoked_expired_tokens_get_the_same_401(
    client: TestClient,
    make_token: Callable[..., str],
    factory: sessionmaker[Session],
) -> None:
    revoked = make_token("revoked-user", "admin")
    expired = make_token("expired-user", "admin")
    inactive = make_token("inactive-user", "admin")
    with unit_of_work(factory) as s:
        assert users_service.revoke_api_tokens(s, "revoked-user") == 1
        s.execute(
            update(ApiToken)
            .where(ApiToken.user_id == users_service.get_user(s, "expired-user").id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        s.execute(update(User).where(User.username == "inactive-user").values(is_active=False))

    cases: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer cl_not-a-real-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {inactive}"},
    ]
    bodies = [_unauthorized(client.get(PERSONS, headers=h)) for h in cases]
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["type"] == "/api/v1/problems/authentication-failed"
    assert "Bearer" in bodies[0]["detail"]
    # Writes are refused the same way, before the body is even looked at.
    _unauthorized(client.post(PERSONS, json={"gender": "bad"}))
    _unauthorized(client.delete(f"{PERSONS}/1"))


def test_token_is_stamped_when_used(
    client: TestClient, make_token: Callable[..., str], factory: sessionmaker[Session]
) -> None:
    token = make_token("stamp", "analyst")
    assert client.get(PERSONS, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with factory() as s:
        row = s.query(ApiToken).one()
        assert row.last_used_at is not None


def test_analyst_reads_but_cannot_write(
    client: TestClient, auth: Auth, admin: dict[str, str], create: Callable[..., dict[str, Any]]
) -> None:
    pid = create(family_name="Readonly")["id"]
    analyst = auth("analyst")
    assert client.get(PERSONS, headers=analyst).status_code == 200
    assert client.get(f"{PERSONS}/{pid}", headers=analyst).status_code == 200
    assert client.get(f"{PERSONS}/{pid}/card", headers=analyst).status_code == 200
    response = client.patch(
        f"{PERSONS}/{pid}", headers=analyst, json={"version": 1, "given_name": "No"}
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Forbidden"
    assert "persons:write" in problem["detail"]
    assert client.post(PERSONS, headers=analyst, json={"family_name": "N"}).status_code == 403
    assert client.delete(f"{PERSONS}/{pid}", headers=analyst).status_code == 403
    admin_view = client.get(f"{PERSONS}/{pid}", headers=admin).json()
    assert admin_view["given_name"] is None and admin_view["version"] == 1


@pytest.mark.parametrize(
    ("role", "can_write", "can_delete"),
    [("admin", True, True), ("marketer", True, False), ("agent", True, False)],
)
def test_roles(
    client: TestClient,
    auth: Auth,
    create: Callable[..., dict[str, Any]],
    role: str,
    can_write: bool,
    can_delete: bool,
) -> None:
    pid = create(family_name="Roles")["id"]
    headers = auth(role, f"user-{role}")
    patch = client.patch(f"{PERSONS}/{pid}", headers=headers, json={"version": 1, "gender": "male"})
    assert (patch.status_code == 200) is can_write
    delete = client.delete(f"{PERSONS}/{pid}", headers=headers)
    assert delete.status_code == (204 if can_delete else 403)


def test_me(client: TestClient, auth: Auth) -> None:
    response = client.get("/api/v1/me", headers=auth("analyst", "ana"))
    assert response.status_code == 200
    me = response.json()
    assert me["username"] == "ana"
    assert me["role"] == "analyst"
    assert "persons:read" in me["permissions"]
    assert "persons:write" not in me["permissions"]
    _unauthorized(client.get("/api/v1/me"))
