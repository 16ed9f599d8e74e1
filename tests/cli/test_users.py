"""``closedloop users``: create (password from stdin or env), list, set-password, tokens."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.users import service

runner = CliRunner()


@pytest.mark.usefixtures("engine")
def test_create_with_password_on_stdin_then_list() -> None:
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "alice",
            "--role",
            "marketer",
            "--full-name",
            "Alice Ionescu",
            "--email",
            "alice@example.org",
            "--password-stdin",
            "--json",
        ],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["username"] == "alice"
    assert created["role"] == "marketer"
    assert "persons:write" in created["permissions"]
    assert "password" not in result.stdout

    listed = runner.invoke(app, ["users", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    users = json.loads(listed.stdout)
    assert [(u["username"], u["role"], u["full_name"]) for u in users] == [
        ("alice", "marketer", "Alice Ionescu")
    ]
    assert "password_hash" not in listed.stdout
    table = runner.invoke(app, ["users", "list"])
    assert "alice" in table.stdout and "marketer" in table.stdout


def test_password_is_checked_and_stored(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    short = runner.invoke(
        app, ["users", "create", "bob", "--role", "analyst", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1
    assert "password" in short.output and "10" in short.output

    monkeypatch.setenv("CLOSEDLOOP_NEW_PASSWORD", "from-the-environment")
    ok = runner.invoke(app, ["users", "create", "bob", "--role", "analyst"])
    assert ok.exit_code == 0, ok.output
    with factory() as s:
        assert service.authenticate(s, "bob", "from-the-environment").username == "bob"

    monkeypatch.delenv("CLOSEDLOOP_NEW_PASSWORD")
    changed = runner.invoke(
        app, ["users", "set-password", "bob", "--password-stdin"], input="a-new-password\n"
    )
    assert changed.exit_code == 0, changed.output
    with factory() as s:
        assert service.authenticate(s, "bob", "a-new-password").username == "bob"

    duplicate = runner.invoke(
        app, ["users", "create", "bob", "--role", "admin", "--password-stdin"], input="x" * 12
    )
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output


@pytest.mark.usefixtures("engine")
def test_no_password_source_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOSEDLOOP_NEW_PASSWORD", raising=False)
    result = runner.invoke(app, ["users", "create", "carol", "--role", "agent"])
    assert result.exit_code == 2
    assert "--password-stdin" in result.output


def test_bad_role_is_refused(engine: Engine) -> None:
    result = runner.invoke(
        app, ["users", "create", "dan", "--role", "boss", "--password-stdin"], input="x" * 12
    )
    assert result.exit_code != 0
    assert "boss" in result.output


def test_token_is_printed_once_and_works(client: TestClient) -> None:
    runner.invoke(
        app, ["users", "create", "erin", "--role", "analyst", "--password-stdin"], input="x" * 12
    )
    plain = runner.invoke(app, ["users", "token", "erin", "--name", "erp"])
    assert plain.exit_code == 0, plain.output
    token = plain.stdout.strip()
    assert token.startswith("cl_") and "\n" not in token
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["username"] == "erin"

    as_json = runner.invoke(app, ["users", "token", "erin", "--json", "--expires-days", "30"])
    data = json.loads(as_json.stdout)
    assert data["username"] == "erin" and data["token"].startswith("cl_")
    assert data["expires_at"] is not None

    revoked = runner.invoke(app, ["users", "revoke-tokens", "erin", "--name", "erp"])
    assert revoked.exit_code == 0 and "Revoked 1" in revoked.stdout
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    other = client.get("/api/v1/me", headers={"Authorization": f"Bearer {data['token']}"})
    assert other.status_code == 200

    unknown = runner.invoke(app, ["users", "token", "nobody"])
    assert unknown.exit_code == 1
    assert "does not exist" in unknown.output


def test_role_deactivation_and_sign_out_from_the_command_line(
    client: TestClient, make_user: Callable[..., str], factory: sessionmaker[Session]
) -> None:
    from tests.web.conftest import login

    make_user("root", "admin")
    make_user("lou", "agent")
    assert login(client, "lou").status_code == 303
    assert client.get("/persons").status_code == 200
    result = runner.invoke(app, ["users", "sign-out", "lou"])
    assert result.exit_code == 0 and "Ended 1 session(s)" in result.output
    assert client.get("/persons", follow_redirects=False).status_code == 303
    assert runner.invoke(app, ["users", "role", "lou", "analyst"]).exit_code == 0
    assert runner.invoke(app, ["users", "deactivate", "lou"]).exit_code == 0
    with factory() as s:
        lou = service.get_user(s, "lou")
        assert lou.role == "analyst" and not lou.is_active
    refused = runner.invoke(app, ["users", "deactivate", "root"])
    assert refused.exit_code != 0 and "last active admin" in refused.output
    assert runner.invoke(app, ["users", "activate", "lou"]).exit_code == 0
