"""The administration pages: users and roles, API tokens, the audit trail, schedules."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.jobs.models import JobSchedule
from closedloop.users import service as users_service
from closedloop.users.models import ApiToken, AuditEvent, User

PAGES = ["/admin/users", "/admin/tokens", "/admin/audit", "/admin/schedules"]


def _post(client: TestClient, web: SimpleNamespace, page: str, url: str, **data: str) -> str:
    """Submit a form of ``page`` to ``url``; returns the page shown after."""
    data["csrf_token"] = web.page_token(client, page)
    response = client.post(url, data=data)
    assert response.status_code in (200, 201), response.text
    return response.text


def _user(factory: sessionmaker[Session], name: str) -> User:
    with factory() as s:
        return s.scalars(select(User).where(User.username == name)).one()


def test_only_admins_see_the_administration(
    logged_in: Callable[..., TestClient], client: TestClient, web: SimpleNamespace
) -> None:
    logged_in("marketer")
    assert "/admin/users" not in client.get("/").text
    for page in PAGES:
        assert client.get(page).status_code == 403
    client.post("/logout", data={"csrf_token": web.page_token(client, "/")})
    logged_in("admin")
    assert 'href="/admin/users"' in client.get("/").text
    for page in PAGES:
        assert client.get(page).status_code == 200, page


def test_an_admin_manages_a_user_from_creation_to_deactivation(
    app: FastAPI,
    logged_in: Callable[..., TestClient],
    client: TestClient,
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("admin")
    page = _post(client, web, "/admin/users", "/admin/users", username="nina",
                 full_name="Nina Simone", role="agent", password="nina-password1")  # fmt: skip
    assert "The user was created." in page and "Nina Simone" in page
    nina = _user(factory, "nina")
    assert nina.role == "agent"
    # Nina logs in elsewhere.
    other = TestClient(app)
    assert web.login(other, "nina").status_code == 303
    assert other.get("/persons").status_code == 200
    url = f"/admin/users/{nina.id}"
    page = _post(client, web, url, url, action="role", role="analyst")
    assert "The role was changed" in page
    assert _user(factory, "nina").role == "analyst"
    assert other.get("/persons", follow_redirects=False).status_code == 303  # signed out
    assert web.login(other, "nina").status_code == 303
    refused = _post(client, web, url, url, action="password", password="short")
    assert "The password is too short." in refused
    page = _post(client, web, url, url, action="password", password="another-password1")
    assert "The password was reset" in page
    assert other.get("/persons", follow_redirects=False).status_code == 303
    assert web.login(other, "nina", "another-password1").status_code == 303
    page = _post(client, web, url, url, action="sign_out")
    assert "signed out everywhere" in page
    assert other.get("/persons", follow_redirects=False).status_code == 303
    page = _post(client, web, url, url, action="deactivate")
    assert "deactivated" in page and not _user(factory, "nina").is_active
    assert web.login(other, "nina", "another-password1").status_code == 401
    with factory() as s:
        actions = s.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity == "user", AuditEvent.entity_id == str(nina.id)
            )
        ).all()
    assert {"user_create", "user_role", "user_password", "user_sign_out", "user_deactivate"} <= set(
        actions
    )


def test_a_token_is_shown_once_listed_with_its_last_use_and_revocable(
    logged_in: Callable[..., TestClient],
    client: TestClient,
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    make_user("erp", "marketer")
    erp = _user(factory, "erp")
    logged_in("admin")
    url = f"/admin/users/{erp.id}"
    data = {"csrf_token": web.page_token(client, url), "name": "erp-sync", "days": "30"}
    created = client.post(f"{url}/tokens", data=data)
    assert created.status_code == 201
    token = re.search(r"<code>(cl_[^<]+)</code>", created.text).group(1)  # type: ignore[union-attr]
    assert token not in client.get(url).text  # shown once
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listing = client.get("/admin/tokens").text
    assert "erp-sync" in listing and "never" not in listing.split("erp-sync")[1][:400]
    with factory() as s:
        token_id = s.scalars(select(ApiToken.id)).one()
    page = _post(
        client, web, "/admin/tokens", f"/admin/tokens/{token_id}/revoke", next="/admin/tokens"
    )
    assert "The token was revoked." in page and "revoked" in page
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_audit_trail_is_searchable_and_paginated(
    logged_in: Callable[..., TestClient], client: TestClient, factory: sessionmaker[Session]
) -> None:
    logged_in("admin")
    with unit_of_work(factory) as s:
        admin = users_service.get_user(s, "admin")
        for i in range(60):
            users_service.audit(s, admin, "view", "person", 1000 + i, channel="web")
        users_service.audit(s, admin, "export", "person", 7, channel="cli")
    everything = client.get("/admin/audit").text
    assert "Page 1 of 2" in everything
    exports = client.get("/admin/audit", params={"action": "export"}).text
    assert re.search(r'id="audit-count">1 event', exports)
    assert 'href="/persons/7"' in exports
    one = client.get("/admin/audit", params={"entity": "person", "entity_id": "1042"}).text
    assert re.search(r'id="audit-count">1 event', one)
    later = client.get("/admin/audit", params={"since": "2999-01-01"}).text
    assert "No event matches." in later
    bad = client.get("/admin/audit", params={"since": "yesterday"})
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.text
    assert client.get("/admin/audit", params={"page": 2**63}).status_code in (400, 422)


def test_schedules_are_added_paused_and_removed(
    logged_in: Callable[..., TestClient],
    client: TestClient,
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("admin")
    page = _post(client, web, "/admin/schedules", "/admin/schedules", action="add",
                 name="nightly", kind="dedupe.run", every="1d", at="02:00")  # fmt: skip
    assert "The schedule was added." in page and "nightly" in page
    page = _post(client, web, "/admin/schedules", "/admin/schedules", action="add",
                 name="bad", kind="dedupe.run", every="1s")  # fmt: skip
    assert "Cannot read the interval" in page
    _post(client, web, "/admin/schedules", "/admin/schedules", action="pause", name="nightly")
    with factory() as s:
        assert s.scalars(select(JobSchedule.enabled)).one() is False
    _post(client, web, "/admin/schedules", "/admin/schedules", action="remove", name="nightly")
    with factory() as s:
        assert s.scalars(select(JobSchedule)).first() is None
