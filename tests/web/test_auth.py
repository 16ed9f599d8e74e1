"""Login, logout, sessions and redirects of the web pages."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict
from closedloop.users import service as users_service
from closedloop.users.models import AuditEvent, User, WebSession
from closedloop.vocab import Role
from closedloop.web import SESSION_COOKIE


def test_login_success_goes_to_next_and_records_it(
    client: TestClient,
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    make_user("marie", "marketer", full_name="Marie Curie")
    response = web.login(client, "marie", next_url="/persons?q=dup")
    assert response.status_code == 303
    assert response.headers["location"] == "/persons?q=dup"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    page = client.get("/")
    assert page.status_code == 200
    assert "Marie Curie" in page.text
    with factory() as s:
        user = s.scalars(select(User).where(User.username == "marie")).one()
        assert user.last_login_at is not None
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.user_id == user.id)).all()
        assert "login" in actions


def test_unknown_user_and_wrong_password_look_the_same(
    client: TestClient, make_user: Callable[..., str], web: SimpleNamespace
) -> None:
    make_user("admin", "admin")
    wrong_password = web.login(client, "admin", "not-the-password")
    unknown_user = web.login(client, "nobody", "admin-password1")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert "Unknown user or wrong password." in wrong_password.text
    # Only the echoed user name differs.
    assert wrong_password.text.replace('value="admin"', 'value="X"') == unknown_user.text.replace(
        'value="nobody"', 'value="X"'
    )
    assert client.get("/persons", follow_redirects=False).status_code == 303


def test_inactive_user_cannot_log_in(
    client: TestClient,
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    make_user("old", "agent")
    with unit_of_work(factory) as s:
        users_service.get_user(s, "old").is_active = False
    assert web.login(client, "old").status_code == 401


@pytest.mark.parametrize("path", ["/", "/persons?q=dupont&status=customer", "/persons/1"])
def test_pages_require_login(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/login?next=")
    login_page = client.get(location)
    assert login_page.status_code == 200
    assert 'name="next"' in login_page.text


def test_login_returns_to_the_page_asked_for(
    client: TestClient, make_user: Callable[..., str], web: SimpleNamespace
) -> None:
    make_user("admin", "admin")
    first = client.get("/persons?q=dupont&status=customer", follow_redirects=False)
    login_page = client.get(first.headers["location"])
    assert 'value="/persons?q=dupont&amp;status=customer"' in login_page.text
    response = client.post(
        "/login",
        data={
            "username": "admin",
            "password": "admin-password1",
            "next": "/persons?q=dupont&status=customer",
            "csrf_token": web.csrf_from(login_page.text),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/persons?q=dupont&status=customer"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/persons\r\nSet-Cookie: x=1",
    ],
)
def test_open_redirects_are_refused(
    client: TestClient, make_user: Callable[..., str], target: str, web: SimpleNamespace
) -> None:
    make_user("admin", "admin")
    response = web.login(client, "admin", next_url=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = client.get("/login", params={"next": target}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/"


def test_login_rotates_the_session(
    client: TestClient, make_user: Callable[..., str], web: SimpleNamespace
) -> None:
    make_user("admin", "admin")
    before_token = web.page_token(client, "/login")
    before_cookie = client.cookies.get(SESSION_COOKIE)
    web.login(client, "admin")
    after_token = web.page_token(client, "/")
    assert after_token != before_token
    assert client.cookies.get(SESSION_COOKIE) != before_cookie


def test_logout_is_a_post_and_ends_the_session(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace
) -> None:
    logged_in("admin")
    assert client.get("/logout").status_code == 405
    token = web.page_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "You are logged out." in client.get("/login").text
    assert client.get("/persons", follow_redirects=False).status_code == 303


def test_new_password_ends_existing_sessions(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    logged_in("admin")
    assert client.get("/persons").status_code == 200
    with unit_of_work(factory) as s:
        users_service.set_password(s, "admin", "a-brand-new-password")
    assert client.get("/persons", follow_redirects=False).status_code == 303


def test_deactivated_user_is_logged_out(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    logged_in("agent")
    with unit_of_work(factory) as s:
        users_service.get_user(s, "agent").is_active = False
    assert client.get("/", follow_redirects=False).status_code == 303


def test_tampered_cookie_is_ignored(
    client: TestClient, logged_in: Callable[..., TestClient]
) -> None:
    logged_in("admin")
    value = client.cookies.get(SESSION_COOKIE)
    assert value
    client.cookies.clear()  # then only the tampered cookie is sent
    client.cookies.set(SESSION_COOKIE, value[:-3] + "AAA")
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, value)  # the cookie as issued still works
    assert client.get("/", follow_redirects=False).status_code == 200


def test_repeated_failed_logins_are_throttled_then_allowed_again(
    client: TestClient,
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    make_user("olga", "analyst")
    for _ in range(users_service.LOGIN_LIMIT):
        assert web.login(client, "olga", "guess-1234567").status_code == 401
    blocked = web.login(client, "olga")  # even the right password waits now
    assert blocked.status_code == 429
    assert "Too many failed attempts. Try again in 15 minute(s)." in blocked.text
    assert client.get("/persons", follow_redirects=False).status_code == 303
    assert web.login(client, "someone-else", "guess-1234567").status_code == 401  # per user
    with unit_of_work(factory) as s:  # the window passes
        for event in s.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")):
            event.at = event.at - users_service.LOGIN_WINDOW
    assert web.login(client, "olga").status_code == 303


def test_a_cookie_copied_before_logout_opens_nothing_after(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace
) -> None:
    logged_in("admin")
    copied = client.cookies.get(SESSION_COOKIE)
    assert copied and client.get("/persons").status_code == 200
    client.post("/logout", data={"csrf_token": web.page_token(client, "/")})
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, copied)  # an attacker replays the old cookie
    response = client.get("/persons", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_the_cookie_is_an_opaque_key_whose_hash_only_is_stored(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    logged_in("admin")
    value = client.cookies.get(SESSION_COOKIE)
    assert value and len(value) == 43 and "." not in value
    decoded = base64.urlsafe_b64decode(value + "=")
    assert b"csrf" not in decoded and b"uid" not in decoded and b"{" not in decoded[:1]
    with factory() as s:
        rows = s.scalars(select(WebSession).where(WebSession.user_id.is_not(None))).all()
        assert [r.key_hash for r in rows] == [hashlib.sha256(value.encode()).hexdigest()]
        assert value not in str([(r.key_hash, r.data) for r in rows])


@pytest.mark.parametrize("change", ["role", "deactivate", "everywhere"])
def test_role_change_deactivation_and_sign_out_everywhere_end_every_session(
    app: FastAPI,
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
    change: str,
) -> None:
    make_user("root", "admin")  # so that the last admin is never the one changed
    make_user("mia", "admin")
    browsers = [TestClient(app), TestClient(app)]
    for browser in browsers:
        assert web.login(browser, "mia").status_code == 303
        assert browser.get("/webhooks").status_code == 200
    with unit_of_work(factory) as s:
        if change == "role":
            users_service.set_role(s, "mia", Role.AGENT)
        elif change == "deactivate":
            users_service.set_active(s, "mia", False)
        else:
            assert users_service.sign_out_everywhere(s, "mia") == 2
    for browser in browsers:
        response = browser.get("/webhooks", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    make_user: Callable[..., str], factory: sessionmaker[Session]
) -> None:
    make_user("only", "admin")
    with unit_of_work(factory) as s, pytest.raises(Conflict, match="last active admin"):
        users_service.set_role(s, "only", Role.AGENT)
    with unit_of_work(factory) as s, pytest.raises(Conflict, match="last active admin"):
        users_service.set_active(s, "only", False)


def test_an_expired_session_is_anonymous(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    logged_in("admin")
    with unit_of_work(factory) as s:
        s.execute(update(WebSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert client.get("/persons", follow_redirects=False).status_code == 303
