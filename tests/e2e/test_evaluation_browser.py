"""The evaluation page in Chromium: the charts are drawn (CSP allows them), no script error,
and the marketer's one-click segment of the responders."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.evaluation.plant import Arm, plant

from closedloop.db.uow import unit_of_work
from closedloop.segments import Segment


def test_report_page_draws_charts_and_makes_a_segment(
    server: str, make_user: Callable[..., str], factory: sessionmaker[Session]
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    make_user("maria", "marketer")
    with unit_of_work(factory) as s:
        campaign_id = plant(
            s, [Arm("A", 400, 0.3, click_rate=0.2), Arm("CTL", 400, 0.1, is_control=True)]
        ).campaign_id
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(20_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(f"{server}/login?next=/campaigns/{campaign_id}/report")
        page.get_by_label("User name").fill("maria")
        page.get_by_label("Password").fill("maria-password1")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("verdict")).to_contain_text("the campaign worked")
        for name in ("funnel", "conversion", "lift"):
            expect(page.locator(f"#chart-{name} .main-svg").first).to_be_visible(timeout=60_000)
        page.locator("#f-group").select_option("responders")
        page.locator("#f-name").fill("Spring responders")
        page.get_by_role("button", name="Make the segment").click()
        expect(page.locator(".flash")).to_contain_text("Segment Spring responders made")
        browser.close()
    assert problems == []
    with factory() as s:
        assert s.scalars(
            select(Segment.frozen_count).where(Segment.name == "Spring responders")
        ).one()
