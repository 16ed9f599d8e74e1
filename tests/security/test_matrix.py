"""The authorisation matrix, generated from the route table.

Every API operation and every page is called as an anonymous visitor, as each role, and with
an expired, a revoked and a tampered credential (API token or session cookie); the answer must
match what the route declares next to itself (a permission, any signed-in user, or public:
see :mod:`closedloop.access`). A route that declares nothing fails here with instructions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.access import DESTRUCTIVE, HOW_TO_DECLARE, RouteAccess, route_table
from closedloop.db.uow import unit_of_work
from closedloop.users import service as users_service
from closedloop.users.models import ApiToken, WebSession
from closedloop.users.permissions import Audience, allowed
from closedloop.vocab import Role
from closedloop.web import SESSION_COOKIE

ROLES = [role.value for role in Role]
BAD = ["expired", "revoked", "tampered"]
CREDENTIALS = ["anonymous", *ROLES, *BAD]
SAMPLES = {"slug": "not-found", "token": "not-a-token"}


def concrete(path: str) -> str:
    """The path with a sample value in each parameter (ids that do not exist)."""

    def sample(match: re.Match[str]) -> str:
        name = match.group(1)
        return SAMPLES.get(name, "1")

    return re.sub(r"\{(\w+)(?::\w+)?\}", sample, path)


def _order(row: RouteAccess) -> tuple[bool, str, str]:
    return (row.path == "/logout", row.path, row.method)  # logging out last


def test_every_route_declares_who_may_call_it(app: FastAPI) -> None:
    missing = [f"{r.method} {r.path} ({r.endpoint})" for r in route_table(app) if r.access is None]
    assert not missing, "\n\n".join(HOW_TO_DECLARE.format(route=m) for m in missing)


def test_destructive_and_mass_operations_each_need_their_listed_permission(app: FastAPI) -> None:
    table = {(r.method, r.path): r for r in route_table(app)}
    unlisted = [
        f"{m} {p}" for (m, p), r in table.items() if r.destructive and (m, p) not in DESTRUCTIVE
    ]
    assert not unlisted, (
        f"Destructive or mass operations not listed in closedloop.access.DESTRUCTIVE: {unlisted}"
    )
    for (method, path), permission in DESTRUCTIVE.items():
        route = table.get((method, path))
        assert route is not None, f"DESTRUCTIVE names {method} {path}, which no longer exists"
        assert route.access == frozenset({permission}), (
            f"{method} {path} must declare exactly {permission.value}, not {route.access}"
        )


def test_a_mass_delete_is_not_in_every_writers_hands() -> None:
    rollback = DESTRUCTIVE[("POST", "/api/v1/imports/{batch_id}/rollback")]
    assert [r for r in ROLES if allowed(r, rollback)] == ["admin"]


def _api_credentials(
    credential: str, make_token: Callable[..., str], factory: sessionmaker[Session]
) -> dict[str, str]:
    if credential == "anonymous":
        return {}
    if credential in ROLES:
        return {"Authorization": f"Bearer {make_token(f'api-{credential}', credential)}"}
    token = make_token("api-bad", "admin")
    with unit_of_work(factory) as s:
        if credential == "expired":
            past = datetime.now(UTC) - timedelta(seconds=1)
            s.execute(update(ApiToken).values(expires_at=past))
        elif credential == "revoked":
            users_service.revoke_api_tokens(s, "api-bad")
    if credential == "tampered":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    return {"Authorization": f"Bearer {token}"}


def _api_denied(row: RouteAccess, credential: str) -> int | None:
    """The status expected for a refusal, or None when the call must get through."""
    if row.access == Audience.PUBLIC:
        return None
    if credential == "anonymous" or credential in BAD:
        return 401
    if row.access == Audience.AUTHENTICATED:
        return None
    assert isinstance(row.access, frozenset)
    return None if all(allowed(credential, p) for p in row.access) else 403


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_api_matrix(
    app: FastAPI,
    client: TestClient,
    make_token: Callable[..., str],
    factory: sessionmaker[Session],
    credential: str,
) -> None:
    headers = _api_credentials(credential, make_token, factory)
    wrong = []
    for row in sorted((r for r in route_table(app) if r.api), key=_order):
        url = concrete(row.path)
        body = {} if row.method in ("POST", "PUT", "PATCH") else None
        response = client.request(row.method, url, headers=headers, json=body)
        expected = _api_denied(row, credential)
        got = response.status_code
        if (expected is None and got in (401, 403)) or (expected is not None and got != expected):
            wrong.append(f"{row.method} {row.path}: {got} (expected {expected or 'through'})")
    assert not wrong, f"as {credential}: " + "; ".join(wrong)


def _web_client(
    credential: str,
    app: FastAPI,
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> tuple[TestClient, str]:
    """A browser with the credential, and the CSRF token its session had."""
    browser = TestClient(app)
    if credential == "anonymous":
        return browser, web.page_token(browser, "/login")
    name = make_user(f"web-{credential}", credential if credential in ROLES else "admin")
    assert web.login(browser, name).status_code == 303
    token = web.page_token(browser, "/")
    if credential == "expired":
        with unit_of_work(factory) as s:
            past = datetime.now(UTC) - timedelta(seconds=1)
            s.execute(update(WebSession).values(expires_at=past))
    elif credential == "revoked":
        with unit_of_work(factory) as s:
            users_service.sign_out_everywhere(s, name)
    elif credential == "tampered":
        value = browser.cookies.get(SESSION_COOKIE)
        assert value
        browser.cookies.clear()
        browser.cookies.set(
            SESSION_COOKIE, value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB")
        )
    return browser, token


CSRF_REFUSED = "This form has expired"


def _web_outcome(response: Response) -> str:
    """login (sent to the login page), forbidden (role), csrf (stale form) or through."""
    if response.status_code == 303 and response.headers["location"].startswith("/login?next="):
        return "login"
    if response.status_code == 403:
        return "csrf" if CSRF_REFUSED in response.text else "forbidden"
    return "through"


def _web_expected(row: RouteAccess, credential: str) -> set[str]:
    if credential in BAD:
        # The session is gone: its forms' CSRF token too, so a POST may stop at that.
        stale = {"csrf"} if row.method != "GET" else set()
        return {"through", *stale} if row.access == Audience.PUBLIC else {"login", *stale}
    if row.access == Audience.PUBLIC:
        return {"through"}
    if credential == "anonymous":
        return {"login"}
    if row.access == Audience.AUTHENTICATED:
        return {"through"}
    assert isinstance(row.access, frozenset)
    return {"through"} if all(allowed(credential, p) for p in row.access) else {"forbidden"}


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_web_matrix(
    app: FastAPI,
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
    credential: str,
) -> None:
    browser, token = _web_client(credential, app, make_user, factory, web)
    wrong = []
    for row in sorted((r for r in route_table(app) if not r.api), key=_order):
        data = {"csrf_token": token} if row.method != "GET" else None
        response = browser.request(
            row.method, concrete(row.path), data=data, follow_redirects=False
        )
        outcome, expected = _web_outcome(response), _web_expected(row, credential)
        if outcome not in expected:
            wrong.append(
                f"{row.method} {row.path}: {response.status_code} {outcome}, not {expected}"
            )
    assert not wrong, f"as {credential}: " + "; ".join(wrong)
