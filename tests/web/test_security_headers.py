"""Security headers on the HTML pages, static files served, the API documentation untouched."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from closedloop.web import rendering
from closedloop.web.security import CONTENT_SECURITY_POLICY

PAGES = ["/login", "/", "/persons", "/persons/{pid}", "/persons/{pid}/edit", "/persons/999999"]


@pytest.mark.parametrize("path", PAGES)
def test_html_pages_send_security_headers(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    path: str,
) -> None:
    if path != "/login":
        logged_in("admin")
    response = client.get(path.format(pid=people["Dupont"]), follow_redirects=False)
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"


def test_error_and_redirect_responses_have_them_too(client: TestClient) -> None:
    redirect = client.get("/persons", follow_redirects=False)
    assert redirect.status_code == 303
    assert redirect.headers["x-frame-options"] == "DENY"
    refused = client.post("/logout")
    assert refused.status_code == 403
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]


def test_templates_have_no_inline_script_or_style() -> None:
    for path in Path(rendering.TEMPLATES).rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), path
        assert "<style" not in text and " style=" not in text, path
        assert not re.search(r"\son[a-z]+=", text), path


def test_static_files_are_served(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert js.headers["x-content-type-options"] == "nosniff"


def test_api_documentation_runs_under_the_sites_policy(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    scripts = re.findall(r"<script[^>]*>", docs.text)
    assert scripts and all(re.search(r'src="/docs/', tag) for tag in scripts)
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', docs.text))
    for path in re.findall(r'(?:src|href)="([^"]*)"', docs.text):
        assert client.get(path).status_code == 200, path


def test_pages_are_utf8(
    client: TestClient, logged_in: Callable[..., TestClient], people: dict[str, int]
) -> None:
    logged_in("admin")
    response = client.get(f"/persons/{people['王']}")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta charset="utf-8">' in response.text
    assert "北京".encode() in response.content


def test_unknown_page_and_wrong_method_get_html_error_pages(client: TestClient) -> None:
    missing = client.get("/no-such-page", headers={"Accept-Language": "fr"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Cette page ou cette fiche n’existe pas." in missing.text
    assert missing.headers["x-frame-options"] == "DENY"
    wrong = client.get("/logout")
    assert wrong.status_code == 405
    assert "This page cannot be used this way." in wrong.text
    # The API keeps answering with problems.
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")


def test_unexpected_error_gets_an_html_page(app: FastAPI) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom", boom, include_in_schema=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in response.text
    assert "secret internals" not in response.text
