"""Issue 14's "done when": a marketer's first day on a freshly seeded demo, in real Chromium.

Home, search, the card, a consent recorded, an import through its mapping step, the duplicate
search and a pair decided with the mouse, the merge undone (after its confirmation), a scoring
run that also updates the lifecycle, every report, /docs, and a visitor's sign-up whose
confirmation email is read in the demo's mail catcher (the Outbox page) and leads to the
preference centre. The walk fails on any answer of 500 or more, any console error or page
error, and any element that cannot be clicked (Playwright's click waits for the element to be
visible, stable and the one hit by the mouse at its centre).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.channels.catcher import MailCatcher
from closedloop.cli.demo import DEMO_PASSWORD, DEMO_USER, _demo_signup_form
from closedloop.cli.seed import run_seed
from closedloop.consent.models import ConsentEvent
from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.jobs import worker
from closedloop.jobs.models import Job
from closedloop.scoring.models import ScoreRun
from closedloop.settings import get_settings
from closedloop.users import service as users_service
from closedloop.vocab import Role

CHROMIUM = Path(os.environ.get("CLOSEDLOOP_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
IMPORT_CSV = (
    "N° client;Prénom;Nom;Courriel;Code postal;Ville\n"
    "FD-1;Zoé;Premierjour;zoe.premierjour@example.org;75011;Paris\n"
    "FD-2;Hugo;Premierjour;hugo.premierjour@example.org;69003;Lyon\n"
)

pytestmark = pytest.mark.e2e


@pytest.fixture()
def demo(
    engine: Engine, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[MailCatcher]:
    """A freshly seeded small demo base, its admin and sign-up form, the demo's mail catcher
    (as ``closedloop demo`` sets it up) and a worker thread running the jobs."""
    run_seed(engine, persons=400, seed=42)
    with unit_of_work(factory) as s:
        users_service.create_user(s, DEMO_USER, DEMO_PASSWORD, Role.ADMIN, full_name="Demo admin")
        _demo_signup_form(s)
    catcher = MailCatcher(engine).start()
    for name, value in {
        "SMTP_HOST": catcher.host,
        "SMTP_PORT": str(catcher.port),
        "SMTP_STARTTLS": "false",
        "SIGNUP_MIN_SECONDS": "0",
    }.items():
        monkeypatch.setenv("CLOSEDLOOP_" + name, value)
    get_settings.cache_clear()
    thread, stop = worker.start_thread(engine, poll_seconds=0.2)
    yield catcher
    stop.set()
    thread.join(timeout=60)
    catcher.stop()
    get_settings.cache_clear()


class Watch:
    """Everything that must not happen on any page: answers ≥ 500, console errors, page
    errors."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("response", self._response)
        page.on("console", lambda m: self._console(page, m))
        page.on("pageerror", lambda e: self.problems.append(f"page error on {page.url}: {e}"))

    def _response(self, response: Any) -> None:
        if response.status >= 500:
            self.problems.append(f"{response.status} on {response.url}")

    def _console(self, page: Any, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error on {page.url}: {message.text}")


def _wait_for_job(factory: sessionmaker[Session], kind: str, timeout: float = 300) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with factory() as s:
            job = s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id.desc())).first()
            if job is not None and job.status in ("done", "failed"):
                assert job.status == "done", f"{kind} failed: {job.error}"
                return job
        time.sleep(0.5)
    raise AssertionError(f"{kind} did not finish in {timeout} s")


def test_a_marketers_first_day(
    server: str,
    demo: MailCatcher,
    engine: Engine,
    factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("CLOSEDLOOP_PUBLIC_BASE_URL", server)  # links in emails lead here
    get_settings.cache_clear()
    with factory() as s:
        someone = s.scalars(
            select(Person)
            .where(Person.merged_into_id.is_(None), Person.family_name.is_not(None))
            .order_by(Person.id)
        ).first()
        assert someone is not None and someone.family_name
        family = someone.family_name
    csv_path = tmp_path / "first-day.csv"
    csv_path.write_text(IMPORT_CSV, encoding="utf-8")
    watch = Watch()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(locale="en-GB", accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(30_000)
        watch.attach(page)
        step = "login"
        try:
            page.goto(server + "/login")
            page.get_by_label("User name").fill(DEMO_USER)
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.locator('form[action="/login"] button[type=submit]').click()
            step = "home"
            expect(page.locator("#kpi-persons")).to_be_visible()
            expect(page.locator("#contactable")).to_be_visible()
            expect(page.locator("#revenue svg")).to_be_visible()

            step = "search and card"
            page.locator("#home-q").fill(family)
            page.locator("#home-q").press("Enter")
            expect(page).to_have_url(re.compile(r"/persons\?q="))
            page.locator(f'#results a[href="/persons/{someone.id}"]').first.click()
            expect(page.locator("#consents")).to_be_visible()

            step = "consent"
            page.locator("#record-consent").click()
            page.locator("#c-channel").select_option("email")
            page.locator("#c-purpose").select_option("newsletter")
            page.locator("#c-proof").fill("Yes, send me the newsletter by email.")
            page.get_by_role("button", name="Record the consent").click()
            expect(page.get_by_text("The consent was recorded.")).to_be_visible()
            expect(page.locator("#consents")).to_contain_text("send me the newsletter")

            step = "import with the mapping step"
            page.locator('nav.mainnav a[href="/imports"]').click()
            page.locator("#f-file").set_input_files(str(csv_path))
            page.get_by_role("button", name="Upload and check the mapping").click()
            expect(page.get_by_role("button", name="Import")).to_be_visible()
            page.get_by_role("button", name="Import").click()
            expect(page).to_have_url(re.compile(r"/imports/\d+$"), timeout=120_000)
            with factory() as s:
                imported = s.scalars(
                    select(Person.given_name)
                    .where(Person.family_name == "Premierjour")
                    .order_by(Person.given_name)
                ).all()
            assert imported == ["Hugo", "Zoé"]

            step = "duplicate search"
            page.locator('nav.mainnav a[href="/duplicates"]').click()
            page.get_by_role("button", name="Search the whole base for duplicates").click()
            _wait_for_job(factory, "dedupe.run")
            page.goto(server + "/duplicates")
            expect(page.locator("#dedupe-run-status")).to_contain_text("finished")

            step = "unmerge after its confirmation"
            # The surest pairs were merged by the search: undo one, then decide it again.
            page.locator("#f-status").select_option("auto_merged")
            page.get_by_role("button", name="Show").click()
            page.locator("#duplicate-queue a").first.click()
            pair_url = page.url
            expect(page.locator("#waterfall .main-svg").first).to_be_visible(timeout=60_000)
            page.get_by_role("link", name="Undo this merge").click()
            expect(page.get_by_role("heading", name="Undo this merge?")).to_be_visible()
            page.locator("#confirm-unmerge").click()
            expect(page).to_have_url(pair_url)
            expect(page.locator(".pair-history")).to_contain_text("then undone")
            expect(page.locator("#pair-status")).to_have_text("Kept apart (may be proposed again)")

            step = "a pair decided with the mouse"
            page.locator('#decision-form button[value="accept"]').click()
            expect(page.get_by_text("Merged.")).to_be_visible()
            page.goto(pair_url)
            expect(page.locator("#pair-status")).to_have_text("Merged after review")

            step = "scoring with the lifecycle"
            page.locator('nav.mainnav a[href="/reports"]').click()
            page.get_by_label("Also update each person's lifecycle status").check()
            page.get_by_role("button", name="Run scoring").click()
            _wait_for_job(factory, "scoring.run")

            step = "every report"
            for path in ("/reports", "/reports/value", "/reports/demand"):
                page.goto(server + path)
                if path != "/reports":
                    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible(
                        timeout=60_000
                    )

            step = "/docs"
            page.goto(server + "/docs")
            expect(page.locator(".swagger-ui .info")).to_be_visible()

            step = "sign-up, confirmation email in the outbox, preference centre"
            visitor = context.browser.new_context(locale="en-GB")  # type: ignore[union-attr]
            public = visitor.new_page()
            public.set_default_timeout(30_000)
            watch.attach(public)
            public.goto(server + "/signup/newsletter")
            public.locator("#f-email").fill("lea.firstday@example.org")
            public.get_by_label("Newsletter").check()
            public.get_by_role("checkbox", name="Email").check()
            public.get_by_role("button", name="Subscribe").click()
            expect(public.locator("#sent")).to_be_visible()
            deadline = time.monotonic() + 120
            while True:
                page.goto(server + "/outbox")
                if page.locator('a[href^="/outbox/"]').count():
                    break
                assert time.monotonic() < deadline, "the confirmation email never came"
                time.sleep(1)
            page.locator('a[href^="/outbox/"]').first.click()
            link = page.locator('#mail-text a[href*="/signup/confirm/"]').first
            confirm_url = link.get_attribute("href")
            assert confirm_url and confirm_url.startswith(server)
            public.goto(confirm_url)
            public.locator("#confirm").click()
            expect(public.locator("#confirmed")).to_be_visible()
            public.locator("#preferences-link").click()
            expect(public.get_by_role("heading", level=1)).to_have_text("Your preferences")
            visitor.close()
        except Exception:
            page.screenshot(path=str(tmp_path / f"first-day-{step.split()[0]}.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert watch.problems == [], "\n".join(watch.problems)
    with factory() as s:  # the lifecycle was updated by the scoring run, the consent stored
        assert s.scalar(select(ScoreRun.status).order_by(ScoreRun.id.desc())) == "done"
        recorded = select(ConsentEvent.proof_text).where(ConsentEvent.recorded_by == DEMO_USER)
        assert s.scalars(recorded).all() == ["Yes, send me the newsletter by email."]
