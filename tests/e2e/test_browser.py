"""End to end in real Chromium: log in, search as you type, open the card, switch language.

Runs the real server (uvicorn in a thread) on the test store and drives Debian's
``/usr/bin/chromium`` with Playwright; no browser is downloaded. A failure leaves a screenshot
in the test's temporary directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from closedloop.consent import service as consent_service
from closedloop.contacts import service as contacts_service
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.transactions.models import Order, OrderLine, Product
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

CHROMIUM = Path(os.environ.get("CLOSEDLOOP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SECTIONS = (
    "identity",
    "contact",
    "relationships",
    "attributes",
    "consents",
    "orders",
    "communications",
    "responses",
    "scores",
    "tasks",
)

pytestmark = pytest.mark.e2e


@pytest.fixture()
def data(factory: sessionmaker[Session], make_user: Callable[..., str]) -> dict[str, int]:
    """An agent, and three persons; Dupont has consents and an order with lines."""
    make_user("claire", "agent", full_name="Claire Martin")
    ids: dict[str, int] = {}
    with unit_of_work(factory) as s:
        for spec in (
            {
                "given_name": "Jean",
                "family_name": "Dupont",
                "lifecycle_status": "customer",
                "emails": [{"address": "jean.dupont@example.com"}],
                "phones": [{"number": "06 12 34 56 78"}],
                "addresses": [
                    {"line1": "12 rue de la Roquette", "postal_code": "75011", "locality": "Paris"}
                ],
            },
            {
                "given_name": "Ana",
                "family_name": "Ștefănescu",
                "emails": [{"address": "ana.stef@example.ro"}],
                "phones": [{"number": "+40721234567"}],
                "addresses": [{"postal_code": "010011", "locality": "București", "country": "RO"}],
            },
            {"given_name": "伟", "family_name": "王", "addresses": [{"locality": "北京"}]},
        ):
            ids[str(spec["family_name"])] = contacts_service.create_person(
                s, PersonCreate.model_validate(spec)
            ).id
        pid = ids["Dupont"]
        consent_service.record_consent(
            s,
            pid,
            Channel.EMAIL,
            Purpose.NEWSLETTER,
            ConsentState.GRANTED,
            method=ConsentMethod.DOUBLE_OPT_IN,
            proof_text="Oui, je veux recevoir la lettre d'information.",
            proof_version="v2",
            source_system="webshop",
        )
        book = Product(sku="BK-001", name="Le Petit Prince", unit_price=Decimal("12.25"))
        s.add(book)
        s.flush()
        order = Order(
            person_id=pid,
            ordered_at=datetime(2024, 3, 5, 11, 0, tzinfo=UTC),
            total_amount=Decimal("24.50"),
            external_id="WEB-42",
            channel="webshop",
        )
        order.lines = [
            OrderLine(
                product_id=book.id,
                quantity=Decimal(2),
                unit_price=Decimal("12.25"),
                amount=Decimal("24.50"),
            )
        ]
        s.add(order)
    return ids


def test_login_search_and_card(server: str, data: dict[str, int], tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("CLOSEDLOOP_E2E_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on(
            "console",
            lambda msg: problems.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        try:
            # Login is required and brings the user back to the page asked for.
            page.goto(f"{server}/persons")
            expect(page).to_have_url(f"{server}/login?next=/persons")
            page.get_by_label("User name").fill("claire")
            page.get_by_label("Password").fill("wrong-password")
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("alert")).to_have_text("Unknown user or wrong password.")
            page.get_by_label("Password").fill("claire-password1")
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(f"{server}/persons")
            expect(page.get_by_role("heading", level=1)).to_have_text("Persons")

            # Search as you type (no submit): the unaccented name finds Ștefănescu.
            page.get_by_label("Search").first.press_sequentially("stefanescu", delay=30)
            results = page.locator("#results")
            expect(results.get_by_role("link", name="Ana Ștefănescu")).to_be_visible()
            expect(results.get_by_role("link", name="Jean Dupont")).to_have_count(0)
            expect(page).to_have_url(f"{server}/persons?q=stefanescu&status=")

            # The form also works by submitting it: Chinese name, no space.
            page.get_by_label("Search").first.fill("王伟")
            page.get_by_label("Search").first.press("Enter")
            expect(results.get_by_role("link", name="王伟")).to_be_visible()

            page.get_by_label("Search").first.fill("dupont")
            page.get_by_role("button", name="Search").click()
            expect(results.get_by_role("link", name="Jean Dupont")).to_be_visible()
            page.screenshot(path=str(shots / "persons-list.png"), full_page=True)

            # The card shows the name and every section.
            results.get_by_role("link", name="Jean Dupont").click()
            expect(page).to_have_url(f"{server}/persons/{data['Dupont']}")
            expect(page.get_by_role("heading", level=1)).to_have_text("Jean Dupont")
            for section in SECTIONS:
                expect(page.locator(f"section#{section}")).to_be_visible()
            expect(page.locator("#orders")).to_contain_text("Le Petit Prince")
            expect(page.locator("#orders")).to_contain_text("€24.50")
            expect(page.locator("#consents")).to_contain_text("Double opt-in")
            expect(page.locator("#communications")).to_contain_text(
                "Nothing sent to this person yet."
            )
            page.screenshot(path=str(shots / "person-card.png"), full_page=True)

            # Keyboard: the skip link is the first stop and leads to the content.
            page.keyboard.press("Tab")
            expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

            # The language is switched from the user menu.
            page.locator("details.usermenu summary").click()
            page.locator("details.usermenu").get_by_label("Language").select_option("fr")
            page.locator("details.usermenu").get_by_role("button", name="Change").click()
            nav = page.get_by_role("navigation", name="Navigation principale")
            expect(nav.get_by_role("link", name="Personnes")).to_be_visible()
            expect(page.locator("#orders")).to_contain_text("24,50")
            page.screenshot(path=str(shots / "person-card-fr.png"), full_page=True)

            # Logout is a form post; afterwards pages need a login again.
            page.locator("details.usermenu summary").click()
            page.get_by_role("button", name="Se déconnecter").click()
            expect(page).to_have_url(f"{server}/login")
            page.goto(f"{server}/persons/{data['Dupont']}")
            expect(page).to_have_url(f"{server}/login?next=/persons/{data['Dupont']}")
            # The wrong password above is an expected 401; anything else (a CSP violation, a
            # script error, a missing file) is a defect.
            unexpected = [p for p in problems if "status of 401" not in p]
            assert not unexpected, f"browser errors: {unexpected}"
        except Exception:
            failure = shots / "failure.png"
            page.screenshot(path=str(failure), full_page=True)
            print(f"screenshot of the failure: {failure}")
            raise
        finally:
            browser.close()
    if os.environ.get("CLOSEDLOOP_E2E_SCREENSHOTS") is None:
        shutil.rmtree(shots, ignore_errors=True)
