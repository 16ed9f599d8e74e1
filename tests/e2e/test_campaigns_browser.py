"""A campaign in real Chromium: a marketer fills the form, a second marketer approves and
launches it (four eyes), the page shows its funnel and sending progress, the calendar shows
its wave; no console error on the way."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.campaigns.waves import email_template, person

from closedloop.campaigns.models import Offer
from closedloop.db.uow import unit_of_work
from closedloop.segments import freeze_members
from closedloop.settings import get_settings

pytestmark = pytest.mark.e2e


@pytest.fixture()
def four_eyes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CLOSEDLOOP_CAMPAIGN_APPROVAL_BY_OTHER", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_plan_approve_launch_in_the_browser(
    four_eyes: None, server: str, make_user: Callable[..., str], factory: sessionmaker[Session]
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import Page, expect, sync_playwright

    for name in ("maria", "paul"):
        make_user(name, "marketer")
    with unit_of_work(factory) as s:
        email_template(s, code="club-mail")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
        freeze_members(s, "Readers", [person(s, i) for i in range(4)], {"k": "e2e"})

    def log_in(page: Page, name: str) -> None:
        page.context.clear_cookies()
        page.goto(f"{server}/login?next=/campaigns")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(f"{name}-password1")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{server}/campaigns")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(20_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        try:
            log_in(page, "maria")
            page.locator("#new-campaign").click()
            page.locator("#f-code").fill("AUTUMN")
            page.locator("#f-name").fill("Autumn club")
            page.locator("#f-offer").select_option("CLUB")
            page.locator("#f-segment_id").select_option(label="Readers")
            page.locator("#f-cells-0-template").select_option("club-mail")
            page.locator("#f-waves-0-scheduled_at").fill("2027-10-05T09:30")
            page.locator("#save-campaign").click()
            expect(page.get_by_role("status").first).to_have_text(
                "The campaign is created as a draft."
            )
            campaign_url = page.url
            page.locator("#approve-campaign").click()
            expect(page.locator(".flash-error")).to_contain_text("other than its author")
            log_in(page, "paul")
            page.goto(campaign_url)
            page.locator("#approve-campaign").click()
            expect(page.locator(".flash").first).to_have_text("The campaign is approved.")
            page.locator("#launch-campaign").click()
            expect(page.locator(".flash").first).to_have_text("The campaign is launched.")
            expect(page.locator(".badge").first).to_have_text(re.compile("scheduled", re.I))
            page.goto(f"{server}/campaigns/calendar?month=2027-10")
            expect(page.locator("#day-2027-10-05")).to_contain_text("AUTUMN")
        finally:
            browser.close()
    assert problems == []
