"""End to end in real Chromium: a company page embeds the sign-up form in an iframe (another
origin), the visitor subscribes, the confirmation email arrives at a real SMTP server, its
link confirms, the preference centre opens and the person withdraws everything."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.net import free_port

from closedloop.asgi import create_app
from closedloop.consent import forms
from closedloop.consent.models import ConsentCurrent, ConsentEvent
from closedloop.db.uow import unit_of_work
from closedloop.jobs.service import run_pending
from closedloop.settings import get_settings

CHROMIUM = Path(os.environ.get("CLOSEDLOOP_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PROOF = "Yes, email me the book news. I can unsubscribe at any time."

pytestmark = pytest.mark.e2e


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


@pytest.fixture()
def site(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The app (uvicorn), an SMTP server, and a company page on another origin."""
    app_port, smtp_port, host_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{app_port}"
    host = f"http://localhost:{host_port}"
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "PUBLIC_BASE_URL": base,
        "SIGNUP_MIN_SECONDS": "0",
        "SIGNUP_FRAME_ANCESTORS": host,
    }.items():
        monkeypatch.setenv("CLOSEDLOOP_" + name, value)
    get_settings.cache_clear()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    page_html = (
        f'<!doctype html><html><body><h1>Acme books</h1><iframe id="signup" '
        f'src="{base}/signup/books" width="600" height="900"></iframe></body></html>'
    ).encode()

    class Company(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, *args: Any) -> None:
            pass

    company = ThreadingHTTPServer(("127.0.0.1", host_port), Company)
    threading.Thread(target=company.serve_forever, daemon=True).start()
    uv = uvicorn.Server(
        uvicorn.Config(create_app(), port=app_port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield {"base": base, "host": host, "inbox": inbox}
    uv.should_exit = True
    thread.join(timeout=10)
    company.shutdown()
    smtp.stop()
    get_settings.cache_clear()


def test_embedded_signup_confirm_and_withdraw(
    site: dict[str, Any], engine: Engine, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with unit_of_work(factory) as s:
        data = forms.validate_form(
            {
                "slug": "books",
                "title": "Book news",
                "topics": [{"code": "book-news", "label": "Book news", "purpose": "newsletter"}],
                "channels": ["email"],
                "proof_text": PROOF,
                "proof_version": "v1",
            },
            create=True,
        )
        assert isinstance(data, forms.SignupFormCreate)
        forms.create_form(s, data)
    inbox: Inbox = site["inbox"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(locale="en-GB")
        page.set_default_timeout(15_000)
        try:
            page.goto(site["host"])
            frame = page.frame_locator("#signup")
            expect(frame.get_by_role("heading", level=1)).to_have_text("Book news")
            expect(frame.locator("#proof-text")).to_have_text(PROOF)
            frame.get_by_role("textbox", name="Email").fill("lea@example.org")
            frame.get_by_label("Given name").fill("Léa")
            frame.get_by_label("Book news").check()
            frame.get_by_role("checkbox", name="Email").check()
            frame.get_by_role("button", name="Subscribe").click()
            expect(frame.locator("#sent")).to_be_visible()

            assert run_pending(engine) == 2  # signup.submit, then its email.send
            body = inbox.messages[0].get_body(preferencelist=("plain",))
            assert body is not None
            link = re.search(r"http://\S+/signup/confirm/\S+", body.get_content())
            assert link
            page.goto(link.group(0))
            page.get_by_role("button", name="Yes, I confirm").click()
            expect(page.locator("#confirmed")).to_be_visible()
            with factory() as s:
                assert s.scalars(select(ConsentCurrent.state)).all() == ["granted"]

            page.get_by_role("link", name="See or change your preferences").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences")
            expect(page.locator("#c-email-newsletter")).to_be_checked()
            page.get_by_role("button", name="Unsubscribe from everything").click()
            expect(page.locator("#notice")).to_be_visible()
            expect(page.locator("#c-email-newsletter")).not_to_be_checked()
        except Exception:
            page.screenshot(path=str(tmp_path / "signup-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    with factory() as s:
        methods = s.scalars(select(ConsentEvent.method).order_by(ConsentEvent.id)).all()
        assert methods == ["double_opt_in", "preference_centre"]
        assert s.scalars(select(ConsentCurrent.state)).all() == ["withdrawn"]
