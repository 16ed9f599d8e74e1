"""The demo's mail catcher and the outbox page: a visitor signs up over HTTP, the confirmation
email reaches the catcher (real SMTP), the admin reads it on /outbox and its link confirms; an
email that cannot be sent is listed with the reason."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.net import free_port

from closedloop.channels.catcher import MailCatcher
from closedloop.cli.demo import _demo_signup_form
from closedloop.db.uow import unit_of_work
from closedloop.jobs.service import run_pending
from closedloop.settings import get_settings

BASE = "http://testserver"


def _point_smtp_at(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "PUBLIC_BASE_URL": BASE,
        "SIGNUP_MIN_SECONDS": "0",
    }.items():
        monkeypatch.setenv("CLOSEDLOOP_" + name, value)
    get_settings.cache_clear()


@pytest.fixture()
def catcher(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailCatcher]:
    """The catcher `closedloop demo` starts, with the SMTP settings pointed at it."""
    with MailCatcher(engine) as running:
        _point_smtp_at(monkeypatch, running.port)
        yield running
    get_settings.cache_clear()


@pytest.fixture()
def newsletter(factory: sessionmaker[Session]) -> str:
    """The demo's sign-up form."""
    with unit_of_work(factory) as s:
        slug = _demo_signup_form(s)
    assert slug is not None
    return slug


def _sign_up(app: FastAPI, slug: str, email: str) -> None:
    with TestClient(app) as visitor:
        page = visitor.get(f"/signup/{slug}")
        ticket = re.search(r'name="ticket" value="([^"]+)"', page.text)
        assert ticket, page.text
        sent = visitor.post(
            f"/signup/{slug}",
            data={
                "ticket": ticket.group(1),
                "email": email,
                "given_name": "Léa",
                "topics": ["news"],
                "channels": ["email"],
                "website": "",
            },
        )
        assert sent.status_code == 200, sent.text


def test_the_confirmation_email_is_caught_read_on_the_outbox_and_its_link_confirms(
    app: FastAPI,
    engine: Engine,
    catcher: MailCatcher,
    newsletter: str,
    logged_in: Callable[..., TestClient],
) -> None:
    _sign_up(app, newsletter, "lea@example.org")
    run_pending(engine)  # the demo's worker thread does this
    admin = logged_in("admin")
    listing = admin.get("/outbox")
    assert listing.status_code == 200
    opened = re.search(r'<a href="/outbox/(\d+)">([^<]+)</a>', listing.text)
    assert opened, listing.text
    assert "lea@example.org" in listing.text
    page = admin.get(f"/outbox/{opened.group(1)}")
    assert page.status_code == 200 and "lea@example.org" in page.text
    # The link of the plain-text part is clickable and leads to the confirmation.
    link = re.search(r'<a href="' + re.escape(BASE) + r'(/signup/confirm/[^"]+)">', page.text)
    assert link, page.text
    with TestClient(app) as visitor:
        assert visitor.get(link.group(1)).status_code == 200
        done = visitor.post(link.group(1))
        assert done.status_code == 200, done.text
        centre = re.search(r'href="' + re.escape(BASE) + r'(/preferences/[^"]+)"', done.text)
        assert centre, done.text
        assert visitor.get(centre.group(1)).status_code == 200
    # The HTML version is served apart, sandboxed, under a policy of its own.
    html = admin.get(f"/outbox/{opened.group(1)}/html")
    assert html.status_code == 200
    policy = html.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert html.headers["x-frame-options"] == "SAMEORIGIN"


def test_a_message_from_any_sender_is_kept_whole(
    catcher: MailCatcher, logged_in: Callable[..., TestClient]
) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "shop@example.com", "ana@example.ro", "Ofertă"
    mail.set_content("Vedeți https://shop.example.com/oferta.\nMulțumim!")
    mail.add_alternative('<p><a href="https://shop.example.com/html">Ofertă</a></p>', "html")
    with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as smtp:
        smtp.send_message(mail)
    admin = logged_in("admin")
    listing = admin.get("/outbox").text
    assert "Ofertă" in listing and "ana@example.ro" in listing
    message_id = re.search(r'<a href="/outbox/(\d+)">Ofertă</a>', listing)
    assert message_id
    page = admin.get(f"/outbox/{message_id.group(1)}").text
    # The full stop after the address is not part of the link; the HTML part's link is listed.
    assert '<a href="https://shop.example.com/oferta">https://shop.example.com/oferta</a>.' in page
    assert '<a href="https://shop.example.com/html">' in page
    assert "Mulțumim!" in page
    emptied = admin.post("/outbox/clear", data={"csrf_token": _csrf(admin)}, follow_redirects=True)
    assert emptied.status_code == 200 and "Ofertă" not in emptied.text


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/outbox").text)
    assert found
    return found.group(1)


def test_an_email_that_cannot_be_sent_is_shown_with_the_reason(
    app: FastAPI,
    engine: Engine,
    newsletter: str,
    monkeypatch: pytest.MonkeyPatch,
    logged_in: Callable[..., TestClient],
) -> None:
    _point_smtp_at(monkeypatch, free_port())  # nobody listens there
    _sign_up(app, newsletter, "nobody@example.org")
    run_pending(engine)
    admin = logged_in("admin")
    outbox = admin.get("/outbox").text
    failed = outbox[outbox.index('id="failed-sends"') :]
    assert "nobody@example.org" in failed and "will be tried again" in failed
    assert "Connection refused" in failed or "ConnectionRefusedError" in failed
    jobs = admin.get("/jobs?kind=email.send").text
    assert "Connection refused" in jobs or "ConnectionRefusedError" in jobs
    get_settings.cache_clear()


def test_only_admins_see_the_outbox(
    catcher: MailCatcher, logged_in: Callable[..., TestClient], client: TestClient
) -> None:
    assert client.get("/outbox", follow_redirects=False).status_code == 303  # log in first
    marketer = logged_in("marketer")
    assert marketer.get("/outbox").status_code == 403
    assert 'href="/outbox"' not in marketer.get("/persons").text
