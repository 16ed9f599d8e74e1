"""The targeting pages in Chromium on a small seeded base: "Find clusters" runs (the page
refreshes while the job runs), a cluster is saved as a segment; propensity, markets and uplift
draw their Plotly charts; the best share by uplift is saved as a segment; no console error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.targeting.test_propensity import _biggest_category

from closedloop.campaigns.models import Campaign
from closedloop.demo.seed import seed_demo
from closedloop.jobs.service import run_pending
from closedloop.segments import Segment


def _drawn(page: object, *names: str) -> None:
    from playwright.sync_api import expect

    for name in names:
        chart = page.locator(f"#chart-{name} .main-svg").first  # type: ignore[attr-defined]
        expect(chart).to_be_visible(timeout=60_000)


def test_targeting_pages_in_the_browser(
    server: str, make_user: Callable[..., str], engine: Engine, factory: sessionmaker[Session]
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    make_user("maria", "marketer")
    seed_demo(engine, 600, 5, today=date(2026, 11, 22))
    with factory() as s:
        category = _biggest_category(s)
        code = s.scalars(select(Campaign.code).where(Campaign.code.like("DEMO-%"))).first()
    assert code is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(20_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(f"{server}/login?next=/targeting")
        page.get_by_label("User name").fill("maria")
        page.get_by_label("Password").fill("maria-password1")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Clusters").first.click()
        expect(page.get_by_text("No clustering has finished yet.")).to_be_visible()

        page.get_by_role("button", name="Find clusters").click()
        expect(page.locator("[data-refresh-seconds]")).to_be_visible()
        assert run_pending(engine, kinds=["targeting.clusters"]) == 1
        _drawn(page, "map")  # the page refreshed by itself once the job was done
        page.get_by_role("button", name="Save as segment").first.click()
        expect(page.locator(".flash")).to_contain_text("Segment saved.")
        assert "/segments/" in page.url

        page.goto(f"{server}/targeting/propensity")
        page.locator("#f-category").select_option(category)
        page.get_by_role("button", name="Train the model").click()
        assert run_pending(engine, kinds=["targeting.propensity"]) == 1
        _drawn(page, "lift", "calibration")
        expect(page.get_by_text("AUC out of time")).to_be_visible()

        page.goto(f"{server}/targeting/markets")
        page.locator("#f-category").select_option(category)
        page.get_by_role("button", name="Rank the markets").click()
        _drawn(page, "markets")

        page.goto(f"{server}/targeting/uplift")
        page.locator("#f-campaign").fill(code)
        page.get_by_role("button", name="Learn the uplift").click()
        assert run_pending(engine, kinds=["targeting.uplift"]) == 1
        _drawn(page, "qini")
        page.locator("#f-percent").fill("30")
        page.locator("#f-name").fill("Moved by the demo campaign")
        page.get_by_role("button", name="Save as segment").click()
        expect(page.locator(".flash")).to_contain_text("Segment saved.")
        browser.close()
    assert problems == []
    with factory() as s:
        kinds = {name: kind for name, kind in s.execute(select(Segment.name, Segment.kind))}
        assert kinds["Moved by the demo campaign"] == "snapshot" and len(kinds) >= 2
