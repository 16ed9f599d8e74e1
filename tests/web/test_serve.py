"""``closedloop serve`` starts the real server on the configured store; behind a reverse proxy
it records and throttles the visitor's address, never one the visitor chose."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.net import free_port
from typer.testing import CliRunner

from closedloop.cli.main import app as cli_app
from closedloop.consent import forms
from closedloop.consent.models import SignupRequest
from closedloop.db.uow import unit_of_work
from closedloop.jobs.service import run_pending
from closedloop.users import service as users_service
from closedloop.users.models import AuditEvent

from .conftest import csrf_from

VISITOR, OTHER = "203.0.113.7", "198.51.100.9"


@contextmanager
def serving(*args: str, **env: str) -> Iterator[str]:
    """Run ``closedloop serve`` on a free port with extra environment; yields its base URL."""
    port = free_port()
    # CLOSEDLOOP_DATABASE_URL and the secret come from the fixtures.
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "closedloop"), "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/login", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read().decode() if proc.stdout else ""
                    raise AssertionError(f"the server did not start:\n{output}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_serve_is_a_command() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--reload" in result.output


def test_serve_answers_with_the_login_page(engine: Engine) -> None:
    with serving() as base:
        response = httpx.get(base + "/login", timeout=10)
    assert response.status_code == 200
    assert 'name="csrf_token"' in response.text
    assert response.headers["x-frame-options"] == "DENY"


def _client(base: str, forwarded_for: str) -> httpx.Client:
    """A browser behind the proxy: every request says it comes from ``forwarded_for``."""
    return httpx.Client(base_url=base, timeout=10, headers={"X-Forwarded-For": forwarded_for})


def _login(client: httpx.Client, password: str) -> int:
    token = csrf_from(client.get("/login").text)
    data = {"username": "olga", "password": password, "next": "/", "csrf_token": token}
    return client.post("/login", data=data).status_code


def _failed_login_addresses(factory: sessionmaker[Session]) -> list[str | None]:
    with factory() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed"))
        return [(e.detail or {}).get("address") for e in events]


def _make_form(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        data = forms.validate_form(
            {
                "slug": "books",
                "title": "Book news",
                "topics": [{"code": "news", "label": "News", "purpose": "newsletter"}],
                "channels": ["email"],
                "proof_text": "Yes, send me the book news.",
                "proof_version": "v1",
            },
            create=True,
        )
        assert isinstance(data, forms.SignupFormCreate)
        forms.create_form(s, data)


def test_behind_a_trusted_proxy_login_and_signup_see_the_same_client(
    engine: Engine, factory: sessionmaker[Session], make_user: Callable[..., str]
) -> None:
    make_user("olga", "analyst")
    _make_form(factory)
    # The proxy (here: the test, on 127.0.0.1) is trusted to name the client.
    proxy = {"FORWARDED_ALLOW_IPS": "127.0.0.1", "CLOSEDLOOP_SIGNUP_MIN_SECONDS": "0"}
    with serving("--no-worker", **proxy) as base:
        with _client(base, VISITOR) as visitor:
            for _ in range(users_service.LOGIN_LIMIT):
                assert _login(visitor, "guess-1234567") == 401
            assert _login(visitor, "olga-password1") == 429  # even the right password waits
            ticket = re.search(r'name="ticket" value="([^"]+)"', visitor.get("/signup/books").text)
            assert ticket
            form = {"ticket": ticket.group(1), "email": "lea@example.org", "topics": "news"}
            sent = visitor.post("/signup/books", data={**form, "channels": "email"})
            assert sent.status_code == 200, sent.text
        with _client(base, OTHER) as other:
            # The failures were counted for the visitor, not for the proxy everyone comes from.
            assert _login(other, "olga-password1") == 303
    assert _failed_login_addresses(factory) == [VISITOR] * users_service.LOGIN_LIMIT
    run_pending(engine, kinds=["signup.submit"])
    with factory() as s:  # the sign-up recorded the same address as the login throttle
        assert s.scalars(select(SignupRequest.ip_address)).all() == [VISITOR]


def test_an_untrusted_peer_cannot_choose_its_address(
    engine: Engine, factory: sessionmaker[Session], make_user: Callable[..., str]
) -> None:
    make_user("olga", "analyst")
    # Only 192.0.2.1 may name clients: this peer's header is ignored.
    with serving("--no-worker", FORWARDED_ALLOW_IPS="192.0.2.1") as base:
        with _client(base, VISITOR) as client:
            for _ in range(users_service.LOGIN_LIMIT):
                assert _login(client, "guess-1234567") == 401
        with _client(base, OTHER) as forged:  # another forged address starts no fresh count
            assert _login(forged, "olga-password1") == 429
    assert _failed_login_addresses(factory) == ["127.0.0.1"] * users_service.LOGIN_LIMIT
