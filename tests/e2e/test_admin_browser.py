"""The administration pages in real Chromium: each renders for an admin with no console
error, and a user created there can be found, given a token and signed out."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS

from closedloop.db.uow import unit_of_work
from closedloop.jobs.schedules import add_schedule
from closedloop.users import service as users_service

pytestmark = pytest.mark.e2e


def test_admin_pages_render_without_console_errors(
    server: str,
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    make_user("root", "admin", full_name="Root Admin")
    with unit_of_work(factory) as s:
        add_schedule(s, "nightly-dedupe", "dedupe.run", every="1d", at="02:00")
        users_service.audit(s, users_service.get_user(s, "root"), "export", "person", 7)
    shots = Path(os.environ.get("CLOSEDLOOP_E2E_SCREENSHOTS") or tmp_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        try:
            page.goto(f"{server}/login?next=/")
            page.get_by_label("User name").fill("root")
            page.get_by_label("Password").fill("root-password1")
            page.get_by_role("button", name="Log in").click()
            page.locator(".usermenu summary").click()
            page.get_by_role("link", name="Administration").click()
            expect(page).to_have_url(f"{server}/admin/users")
            # Add a user, then open their page.
            page.get_by_label("User name").fill("nina")
            page.get_by_label("Name", exact=True).fill("Nina Simone")
            page.get_by_label("Role").select_option("analyst")
            page.get_by_label("First password").fill("nina-password1")
            page.get_by_role("button", name="Add the user").click()
            expect(page.get_by_role("status")).to_have_text("The user was created.")
            page.get_by_label("Label").fill("reporting")
            page.get_by_role("button", name="Create a token").click()
            expect(page.locator("#new-token code")).to_contain_text("cl_")
            page.get_by_role("button", name="Sign out everywhere").click()
            expect(page.get_by_role("status")).to_have_text("The user was signed out everywhere.")
            for tab, heading in (
                ("API tokens", "API tokens"),
                ("Audit trail", "Audit trail"),
                ("Schedules", "Schedules"),
            ):
                page.locator(".sections-nav").get_by_role("link", name=tab).click()
                expect(page.get_by_role("heading", level=2).first).to_have_text(heading)
            expect(page.locator("#schedules")).to_contain_text("nightly-dedupe")
            page.locator(".sections-nav").get_by_role("link", name="Audit trail").click()
            page.get_by_label("Action").select_option("token_create")
            page.get_by_role("button", name="Filter").click()
            expect(page.locator("#audit-count")).to_have_text("1 event(s)")
            assert problems == [], problems
        except Exception:
            page.screenshot(path=str(shots / "admin-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
