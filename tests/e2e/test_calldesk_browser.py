"""The call desk in Chromium, as an agent: next call, the script and survey on the card, an
outcome button with answers, back to the desk with the day's count; no script error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.responses.calls import phone_wave

from closedloop.db.uow import unit_of_work
from closedloop.responses.models import Answer, Response


def test_an_agent_works_two_calls(
    server: str, make_user: Callable[..., str], factory: sessionmaker[Session]
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    make_user("ann", "agent")
    with unit_of_work(factory) as s:
        phone_wave(s, 2, survey=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(20_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(f"{server}/login?next=/desk")
        page.get_by_label("User name").fill("ann")
        page.get_by_label("Password").fill("ann-password1")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#calls-waiting")).to_have_text("2")
        page.get_by_role("link", name="Call desk").click()
        page.get_by_role("button", name="Next call").click()
        expect(page.locator("#call-script")).to_contain_text("Hello Ann, this is the book club")
        expect(page.locator("#call-phone")).to_contain_text("+33 6 12 34")
        page.locator("#q-nps").get_by_label("9").check()
        page.locator("#q-genre").get_by_label("Crime").check()
        page.get_by_label("Note").fill("likes crime novels")
        page.get_by_role("button", name="Interested", exact=True).click()
        expect(page.locator(".flash")).to_contain_text("The call's outcome is recorded.")
        expect(page.locator("#calls-done")).to_have_text("1 / 80")
        page.get_by_role("button", name="Next call").click()
        page.get_by_role("button", name="Wrong number").click()
        expect(page.locator("#calls-done")).to_have_text("2 / 80")
        page.get_by_role("button", name="Next call").click()
        expect(page.locator(".flash")).to_contain_text("Nobody is waiting to be called.")
        browser.close()
    assert problems == []
    with factory() as s:
        outcomes = sorted(
            (r.detail or {}).get("outcome", r.kind) for r in s.scalars(select(Response))
        )
        assert outcomes == ["interested", "survey", "wrong_number"]
        assert s.scalar(select(Answer.answer_choice).where(Answer.answer_choice.is_not(None))) == (
            "Crime"
        )
