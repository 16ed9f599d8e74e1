"""``/api/v1/signup-forms``: create, list, read, replace; validation and permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

URL = "/api/v1/signup-forms"
FORM: dict[str, Any] = {
    "slug": "shop-news",
    "title": "Shop news",
    "topics": [{"code": "deals", "label": "Deals", "purpose": "marketing"}],
    "channels": ["email"],
    "proof_text": "Send me the shop's deals by email; I can withdraw any time.",
    "proof_version": "2026-1",
    "redirect_url": "https://shop.example.com/thanks",
}


def test_create_list_read_replace(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("marketer")
    created = client.post(URL, json=FORM, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["public_url"] == "http://127.0.0.1:8000/signup/shop-news"
    assert "{link}" in body["confirm_body"]  # the default confirmation email
    assert [f["slug"] for f in client.get(URL, headers=headers).json()] == ["shop-news"]
    one = client.get(f"{URL}/{body['id']}", headers=headers)
    assert one.json()["topics"] == FORM["topics"]
    replaced = {k: v for k, v in FORM.items() if k != "slug"} | {"proof_version": "2026-2"}
    put = client.put(f"{URL}/{body['id']}", json=replaced, headers=headers)
    assert put.status_code == 200 and put.json()["proof_version"] == "2026-2"
    assert client.post(URL, json=FORM, headers=headers).status_code == 409
    assert client.get(f"{URL}/999", headers=headers).status_code == 404


def test_invalid_definitions_are_problems_naming_fields(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    bad = FORM | {
        "slug": "Not A Slug",
        "channels": ["pigeon"],
        "confirm_body": "Hello {name}",
        "topics": [],
    }
    response = client.post(URL, json=bad, headers=auth())
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"slug", "channels[0]", "confirm_body", "topics"} <= fields, fields


def test_only_campaign_managers(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=auth("analyst")).status_code == 403
    assert client.post(URL, json=FORM, headers=auth("agent")).status_code == 403
