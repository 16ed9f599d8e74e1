"""Sign-up forms in the admin pages: create, edit, the embed snippet, roles and CSRF."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.consent.models import SignupForm
from closedloop.settings import get_settings


def _data(token: str, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": token,
        "slug": "club",
        "title": "Le club <des> lecteurs",
        "intro": "",
        "topics": "newsletter: Lettre du club\nevents: Soirées lecture",
        "channels": ["email", "sms"],
        "proof_text": "J'accepte de recevoir la lettre et les invitations du club.",
        "proof_version": "v1",
        "confirm_subject": "Confirmez, {given_name}",
        "confirm_body": "Bonjour {given_name},\n\n{link}",
        "redirect_url": "",
        "is_active": "on",
    }
    data.update(over)
    return data


def test_marketer_creates_edits_and_gets_the_embed_snippet(
    logged_in: Callable[..., TestClient], factory: sessionmaker[Session], web: Any
) -> None:
    client = logged_in("marketer")
    assert "Sign-up forms" in client.get("/").text
    token = web.page_token(client, "/signup-forms/new")
    response = client.post("/signup-forms/new", data=_data(token), follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "/signup/club" in page.text
    snippet = re.search(r'<textarea id="embed"[^>]*>([^<]+)</textarea>', page.text)
    assert snippet
    iframe = html.unescape(snippet.group(1))
    # Without CLOSEDLOOP_PUBLIC_BASE_URL, the address the page was asked at (not port 8000).
    assert iframe.startswith('<iframe src="http://testserver/signup/club"')
    listed = client.get("/signup-forms", headers={"Host": "demo.example:8123"}).text
    assert "http://demo.example:8123/signup/club" in listed and ":8000" not in listed
    assert 'title="Le club &lt;des> lecteurs"' in iframe
    with factory() as s:
        form = s.scalars(select(SignupForm)).one()
        assert form.topics == [
            {"code": "lettre-du-club", "label": "Lettre du club", "purpose": "newsletter"},
            {"code": "soirees-lecture", "label": "Soirées lecture", "purpose": "events"},
        ]
        assert form.channels == ["email", "sms"] and form.created_by == "marketer"
    edit = client.post(f"/signup-forms/{form.id}", data=_data(token, title="Club", slug="ignored"))
    assert edit.status_code == 200
    with factory() as s:
        stored = s.scalars(select(SignupForm)).one()
        assert (stored.title, stored.slug) == ("Club", "club")
    assert "Club" in client.get("/signup-forms").text


def test_bad_definitions_name_the_field(logged_in: Callable[..., TestClient], web: Any) -> None:
    client = logged_in("admin")
    token = web.page_token(client, "/signup-forms/new")
    bad = client.post(
        "/signup-forms/new",
        data=_data(
            token,
            topics="weather: Rain",
            confirm_body="{given_name.__class__}",
            redirect_url="javascript:alert(1)",
            channels=[],
        ),
    )
    assert bad.status_code == 422
    for name in ("topics", "confirm_body", "redirect_url", "channels"):
        assert f'id="{name}-error"' in bad.text, name
    client.post("/signup-forms/new", data=_data(token))
    dup = client.post("/signup-forms/new", data=_data(token))
    assert dup.status_code == 422 and 'id="slug-error"' in dup.text


def test_roles_and_csrf(logged_in: Callable[..., TestClient], web: Any) -> None:
    client = logged_in("analyst")
    assert client.get("/signup-forms").status_code == 403
    assert "Sign-up forms" not in client.get("/").text
    client = logged_in("admin", username="boss")
    assert client.post("/signup-forms/new", data=_data("wrong")).status_code == 403


def test_the_public_link_follows_the_configured_public_address(
    logged_in: Callable[..., TestClient], web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = logged_in("marketer")
    token = web.page_token(client, "/signup-forms/new")
    client.post("/signup-forms/new", data=_data(token), follow_redirects=False)
    monkeypatch.setenv("CLOSEDLOOP_PUBLIC_BASE_URL", "https://shop.example")
    get_settings.cache_clear()
    try:
        assert "https://shop.example/signup/club" in client.get("/signup-forms").text
    finally:
        monkeypatch.delenv("CLOSEDLOOP_PUBLIC_BASE_URL")
        get_settings.cache_clear()
