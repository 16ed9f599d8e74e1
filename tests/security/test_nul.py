"""A NUL character in any JSON body: a 422 naming the field on every route (the sync batches
refuse the item in their reply instead) and store, never a
500 (PostgreSQL can store a NUL in neither a text nor a JSON column) and nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Person
from closedloop.responses.models import Survey
from closedloop.segments.models import Segment

CASES = [
    (
        "/api/v1/surveys",
        {
            "code": "S1",
            "title": "Survey",
            "questions": [
                {"code": "q", "text": "Which?", "kind": "single", "choices": ["a", "b\x00"]}
            ],
        },
        "questions[0].choices[1]",
        Survey,
    ),
    (
        "/api/v1/segments",
        {"name": "Tier", "rule": {"field": "given_name", "op": "eq", "value": "A\x00"}},
        "rule.value",
        Segment,
    ),
    ("/api/v1/persons", {"given_name": "Ann", "family_name": "Lee\x00"}, "family_name", Person),
    (
        "/api/v1/persons",
        {"given_name": "Ann", "attributes": {"k\x00": 1}},
        "attributes.k\x00",
        Person,
    ),
]


@pytest.mark.parametrize(("path", "body", "field", "model"), CASES)
def test_a_nul_anywhere_in_a_body_is_refused_naming_the_field(
    client: TestClient,
    admin: dict[str, str],
    factory: sessionmaker[Session],
    path: str,
    body: dict[str, Any],
    field: str,
    model: type,
) -> None:
    answer = client.post(path, json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    error = answer.json()["errors"][0]
    assert error["field"] == field
    assert "control character (U+0000)" in error["message"]
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(model)) == 0


def test_an_escaped_backslash_before_u0000_is_ordinary_text(
    client: TestClient, admin: dict[str, str]
) -> None:
    """The literal text ``\\u0000`` (a backslash, then "u0000") holds no NUL: it is stored."""
    answer = client.post(
        "/api/v1/persons", json={"given_name": "Ann", "family_name": "Lee\\u0000"}, headers=admin
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["family_name"] == "Lee\\u0000"
