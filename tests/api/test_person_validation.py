"""One validation for every entry point of a person (issue 13 item 6): a person who names
nobody and a text holding a control character are refused by the API (POST, PATCH), the sync
API, the import, the sign-up form and the web edit form, each naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Person
from closedloop.contacts.validation import NOBODY

PERSONS = "/api/v1/persons"
SYNC = "/api/v1/sync/persons?source=shop"


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Person)) or 0)


def test_api_post_refuses_nobody_and_control_characters(
    client: TestClient, admin: dict[str, str], factory: sessionmaker[Session]
) -> None:
    empty = client.post(PERSONS, json={}, headers=admin)
    assert empty.status_code == 422, empty.text
    assert NOBODY in empty.text
    only_country = client.post(PERSONS, json={"addresses": [{"country": "FR"}]}, headers=admin)
    assert only_country.status_code == 422 and NOBODY in only_country.text
    nul = client.post(PERSONS, json={"given_name": "Je\u0000an"}, headers=admin)
    assert nul.status_code == 422
    errors = nul.json()["errors"]
    assert [e["field"] for e in errors] == ["given_name"]
    assert "control character (U+0000)" in errors[0]["message"]
    escape = client.post(
        PERSONS,
        json={"family_name": "Martin", "addresses": [{"locality": "Pa\u001bris"}]},
        headers=admin,
    )
    assert escape.status_code == 422
    assert escape.json()["errors"][0]["field"] == "addresses[0].locality"
    assert _count(factory) == 0
    # born on a date at a place: identified without a name (the FEBRL shape)
    placed = client.post(
        PERSONS,
        json={"birth_date": "1961-03-12", "addresses": [{"postal_code": "75011", "country": "FR"}]},
        headers=admin,
    )
    assert placed.status_code == 201, placed.text


def test_api_patch_refuses_to_leave_nobody_and_control_characters(
    client: TestClient, admin: dict[str, str], create: Callable[..., dict[str, Any]]
) -> None:
    person = create(given_name="Jean", family_name="Dupont")
    url = f"{PERSONS}/{person['id']}"
    emptied = client.patch(
        url, json={"version": 1, "given_name": None, "family_name": None}, headers=admin
    )
    assert emptied.status_code == 422, emptied.text
    assert NOBODY in emptied.text
    nul = client.patch(url, json={"version": 1, "family_name": "Du\u0000pont"}, headers=admin)
    assert nul.status_code == 422
    assert nul.json()["errors"][0]["field"] == "family_name"
    after = client.get(url, headers=admin).json()
    assert (after["given_name"], after["family_name"], after["version"]) == ("Jean", "Dupont", 1)


def test_sync_refuses_nobody_and_control_characters_and_keeps_faulty_values_out(
    client: TestClient, admin: dict[str, str], factory: sessionmaker[Session]
) -> None:
    body = {
        "items": [
            {"external_id": "S1"},
            {"external_id": "S2", "given_name": "Je\u0000an"},
            {"external_id": "S3", "given_name": "Anne", "phone": "12", "birth_date": "19551192"},
        ]
    }
    response = client.post(SYNC, json=body, headers=admin)
    assert response.status_code == 200, response.text
    out = response.json()
    items = out["items"]
    assert items[0]["status"] == "rejected"
    assert items[0]["errors"][0]["reason"] == NOBODY
    assert items[1]["status"] == "rejected"
    assert items[1]["errors"][0]["field"] == "given_name"
    assert "U+0000" in items[1]["errors"][0]["reason"]
    assert items[2]["status"] == "created"
    assert {(w["field"], w["value"]) for w in items[2]["warnings"]} == {
        ("phone", "12"),
        ("birth_date", "19551192"),
    }
    assert out["counts"]["kept_with_warnings"] == 1 and out["counts"]["rejected"] == 2
    assert _count(factory) == 1
    batch = client.get(f"/api/v1/imports/{out['batch_id']}", headers=admin).json()
    assert batch["counts"]["kept_with_warnings"] == 1
    assert {w["field"] for w in batch["value_warnings"]} == {"phone", "birth_date"}
