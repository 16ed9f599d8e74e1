"""The campaign editor in real Chromium: a marketer builds a campaign of two waves and three
cells (two offers by email and a hold-out) with an A/B test, by mouse, corrects the error the
page names, saves, and the API gives back what was built; no console error on the way."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.campaigns.waves import email_template, person

from closedloop.campaigns.models import Offer
from closedloop.db.uow import unit_of_work
from closedloop.segments import freeze_members

pytestmark = pytest.mark.e2e


def test_two_waves_three_cells_by_mouse(
    server: str,
    make_user: Callable[..., str],
    make_token: Callable[..., str],
    factory: sessionmaker[Session],
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    make_user("maria", "marketer")
    with unit_of_work(factory) as s:
        email_template(s, code="club-mail")
        email_template(s, code="half-mail")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
        s.add(Offer(code="HALF", name="Half price", price=Decimal("9.95")))
        freeze_members(s, "Readers", [person(s, i) for i in range(4)], {"k": "e2e"})

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(20_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        try:
            page.goto(f"{server}/login?next=/campaigns")
            page.get_by_label("User name").fill("maria")
            page.get_by_label("Password").fill("maria-password1")
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(f"{server}/campaigns")
            page.locator("#new-campaign").click()
            page.locator("#f-code").fill("DUO")
            page.locator("#f-name").fill("Two offers")
            page.locator("#f-offer").select_option("CLUB")
            page.locator("#f-segment_id").select_option(label="Readers")
            # wave 1 is there; a second one is added with the button
            page.locator("#f-waves-0-name").fill("Launch")
            page.locator("#f-waves-0-scheduled_at").fill("2027-11-03T09:00")
            page.get_by_role("button", name="Add a wave").click()
            expect(page.locator("#f-waves-1-name")).to_have_value("Wave 2")
            page.locator("#f-waves-1-name").fill("Reminder")
            page.locator("#f-waves-1-scheduled_at").fill("2027-11-10T09:00")
            page.locator("#f-waves-1-expected_volume").fill("3")
            # cell A is there; B and a hold-out are added
            page.locator("#f-cells-0-template").select_option("club-mail")
            page.locator("#f-cells-0-share").fill("45")
            page.get_by_role("button", name="Add a cell").click()
            expect(page.locator("#f-cells-1-code")).to_have_value("B")
            page.locator("#f-cells-1-name").fill("Half price")
            page.locator("#f-cells-1-template").select_option("half-mail")
            page.locator("#f-cells-1-offer").select_option("HALF")
            page.locator("#f-cells-1-share").fill("50")
            page.get_by_role("button", name="Add a cell").click()
            page.locator("#f-cells-2-code").fill("HOLD")
            page.locator("#f-cells-2-name").fill("Hold-out")
            page.locator("#f-cells-2-kind").select_option("control")
            page.locator("#f-cells-2-share").fill("10")
            page.locator("#f-ab_test_share").fill("20")
            page.locator("#f-ab_metric").select_option("open")
            page.locator("#f-ab_decide_after_hours").fill("12")
            page.locator("#save-campaign").click()
            # 45 + 50 + 10: the page says which field, nothing is saved, nothing typed is lost
            summary = page.locator("#error-summary")
            expect(summary).to_contain_text("shares add up to 105 %")
            expect(page.locator("#f-waves-1-name")).to_have_value("Reminder")
            page.locator("#f-cells-1-share").fill("45")
            page.locator("#save-campaign").click()
            expect(page.locator(".flash").first).to_have_text("The campaign is created as a draft.")
            expect(page.locator("#cells tbody tr")).to_have_count(3)
            campaign_id = int(page.url.rsplit("/", 1)[1])
        finally:
            browser.close()
    # the one refused save answers 422, which Chromium logs; nothing else went wrong
    assert [p for p in problems if "status of 422" not in p] == []
    assert len(problems) == 1

    token = make_token("reader", "analyst")
    got = httpx.get(
        f"{server}/api/v1/campaigns/{campaign_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["code"], body["status"], body["offer"]) == ("DUO", "draft", "CLUB")
    waves = [(w["name"], w["scheduled_at"], w["expected_volume"]) for w in body["waves"]]
    assert waves == [
        ("Launch", "2027-11-03T09:00:00Z", None),
        ("Reminder", "2027-11-10T09:00:00Z", 3),
    ]
    cells = {c["code"]: c for c in body["cells"]}
    assert set(cells) == {"A", "B", "HOLD"}
    assert (cells["A"]["template"], cells["A"]["offer"], cells["A"]["share"]) == (
        "club-mail",
        "CLUB",
        0.45,
    )
    assert (cells["B"]["template"], cells["B"]["offer"], cells["B"]["share"]) == (
        "half-mail",
        "HALF",
        0.45,
    )
    assert cells["HOLD"]["is_control"] is True and cells["HOLD"]["share"] == 0.1
