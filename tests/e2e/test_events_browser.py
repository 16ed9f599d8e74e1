"""An event in Chromium: a guest answers through the invitation's link (in French), then an
agent at the door finds them and checks them in; no script error."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.events.setup import invited

from closedloop.campaigns.tracking import rsvp_url
from closedloop.db.uow import unit_of_work
from closedloop.events.models import EventGuest


def test_a_guest_answers_and_is_checked_in_at_the_door(
    server: str, make_user: Callable[..., str], factory: sessionmaker[Session]
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    make_user("door", "agent")
    with unit_of_work(factory) as s:
        made = invited(s, 2)
    link = re.sub(r"^https?://[^/]+", server, rsvp_url(made.messages[0], "yes"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        guest = browser.new_page(locale="fr-FR")
        guest.set_default_timeout(20_000)
        problems: list[str] = []
        guest.on("pageerror", lambda exc: problems.append(str(exc)))
        guest.goto(link)
        expect(guest.get_by_role("heading", level=1)).to_have_text("Spring gala")
        expect(guest.get_by_label("Oui, je viendrai")).to_be_checked()
        guest.get_by_role("button", name="Envoyer ma réponse").click()
        expect(guest.locator("#outcome")).to_contain_text("Votre place est réservée")
        staff = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        staff.set_default_timeout(20_000)
        staff.on("pageerror", lambda exc: problems.append(str(exc)))
        staff.goto(f"{server}/login?next=/events/{made.event_id}/door")
        staff.get_by_label("User name").fill("door")
        staff.get_by_label("Password").fill("door-password1")
        staff.get_by_role("button", name="Log in").click()
        expect(staff.locator("#door-counts")).to_contain_text("Checked in: 0 of 1")
        staff.get_by_label("Name or email").fill("reader0")
        staff.get_by_role("button", name="Search").click()
        staff.get_by_role("button", name="Check in").click()
        expect(staff.locator(".flash")).to_contain_text("Checked in.")
        expect(staff.locator("#door-counts")).to_contain_text("Checked in: 1 of 1")
        browser.close()
    assert problems == []
    with factory() as s:
        came = s.scalars(select(EventGuest.person_id).where(EventGuest.checked_in_at.is_not(None)))
        assert list(came) == [made.person_ids[0]]
