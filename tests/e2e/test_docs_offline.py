"""The API documentation (/docs) works offline: Chromium, with every request to another host
refused, shows the operations, under the site's Content-Security-Policy, with no console error."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("CLOSEDLOOP_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = pytest.mark.e2e


def test_docs_list_the_operations_with_the_network_closed(server: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import Route, expect, sync_playwright

    outside: list[str] = []
    problems: list[str] = []

    def only_this_machine(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # the network is closed: anything else fails, as it would offline
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        page.route("**/*", only_this_machine)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        try:
            response = page.goto(f"{server}/docs")
            assert response is not None and response.ok
            assert "script-src 'self'" in response.headers["content-security-policy"]
            title = page.locator(".swagger-ui .info .title")
            expect(title).to_contain_text("closedloop", timeout=60_000)  # a busy machine
            path = ".opblock-summary-path[data-path='/api/v1/persons']"
            persons = page.locator(f".opblock-get {path}")
            expect(persons).to_be_visible()
            assert page.locator(".opblock").count() > 20
            # An operation opens and shows its parameters, from the route's docstring.
            persons.click()
            expect(page.locator(".opblock.is-open")).to_contain_text("List persons")
            expect(page.locator(".opblock.is-open .parameters")).to_be_visible()
        finally:
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
            browser.close()
    assert outside == []
    assert problems == []
