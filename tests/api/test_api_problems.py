"""Bad input gets an RFC 9457 problem that names each field, the reason, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

PERSONS = "/api/v1/persons"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    return body


def test_every_invalid_field_is_listed(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        PERSONS,
        headers=admin,
        json={
            "family_name": "X" * 201,
            "gender": "robot",
            "birth_date": "2999-01-01",
            "language": "French",
            "emails": [{"address": "ok@example.org"}, {"kind": "private"}],
            "addresses": [{"country": "France", "latitude": 123}],
            "nickname": "Jo",
        },
    )
    problem = _problem(response, 422)
    assert problem["type"] == "/api/v1/problems/validation-failed"
    assert problem["title"] == "Validation failed"
    assert problem["instance"] == PERSONS
    errors = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(errors) == {
        "family_name",
        "gender",
        "birth_date",
        "language",
        "emails[1].address",
        "addresses[0].country",
        "addresses[0].latitude",
        "nickname",
    }
    assert errors["birth_date"] == "birth date is in the future"
    assert "two-letter" in errors["addresses[0].country"]
    assert errors["emails[1].address"] == "Field required"
    assert "emails[1].address" in problem["detail"]
    assert all("in" not in e for e in problem["errors"])
    assert client.get(PERSONS, headers=admin).json()["total"] == 0


def test_invalid_contact_points_found_by_the_service_are_listed(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post(
        PERSONS,
        headers=admin,
        json={
            "family_name": "Y",
            "emails": [{"address": "ok@example.org"}, {"address": "not-an-email"}],
            "phones": [{"number": "123"}],
        },
    )
    problem = _problem(response, 422)
    assert {e["field"] for e in problem["errors"]} == {"emails[1].address", "phones[0].number"}
    assert client.get(PERSONS, headers=admin).json()["total"] == 0


def test_patch_without_version_names_it(
    client: TestClient, admin: dict[str, str], create: Callable[..., dict[str, Any]]
) -> None:
    pid = create(family_name="Z")["id"]
    problem = _problem(
        client.patch(f"{PERSONS}/{pid}", headers=admin, json={"given_name": "A"}), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["version"]
    problem = _problem(client.patch(f"{PERSONS}/{pid}", headers=admin, json={"version": 0}), 422)
    assert [e["field"] for e in problem["errors"]] == ["version"]


def test_malformed_json_body(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        PERSONS,
        headers={**admin, "Content-Type": "application/json"},
        content=b'{"family_name": "Dupont",',
    )
    problem = _problem(response, 400)
    assert problem["type"] == "/api/v1/problems/malformed-json"
    assert "not valid JSON" in problem["detail"]
    assert "position" in problem["detail"]


def test_body_that_is_not_an_object(client: TestClient, admin: dict[str, str]) -> None:
    problem = _problem(client.post(PERSONS, headers=admin, json=["Dupont"]), 422)
    assert problem["errors"] == [{"field": "body", "message": "must be a JSON object"}]
    empty = client.post(PERSONS, headers={**admin, "Content-Type": "application/json"})
    problem = _problem(empty, 422)
    assert problem["errors"] == [{"field": "body", "message": "a JSON object is required"}]


def test_body_that_is_not_json(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        PERSONS, headers={**admin, "Content-Type": "text/plain"}, content=b"family_name=Dupont"
    )
    problem = _problem(response, 415)
    assert "application/json" in problem["detail"]


def test_unknown_person(client: TestClient, admin: dict[str, str]) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"version": 1}} if method == "PATCH" else {}
        response = client.request(method, f"{PERSONS}/424242", headers=admin, **kwargs)
        problem = _problem(response, 404)
        assert problem["type"] == "/api/v1/problems/not-found"
        assert problem["detail"] == "Person 424242 does not exist."
        assert problem["instance"] == f"{PERSONS}/424242"


def test_bad_path_parameter(client: TestClient, admin: dict[str, str]) -> None:
    for bad in ("abc", "0", str(2**63), "99999999999999999999999"):
        problem = _problem(client.get(f"{PERSONS}/{bad}", headers=admin), 422)
        assert problem["errors"][0]["field"] == "person_id"
        assert problem["errors"][0]["in"] == "path"


def test_unknown_route_and_wrong_method(client: TestClient, admin: dict[str, str]) -> None:
    problem = _problem(client.get("/api/v1/nothing-here", headers=admin), 404)
    assert "/api/v1/nothing-here" in problem["detail"]
    response = client.put(f"{PERSONS}/1", headers=admin, json={})
    problem = _problem(response, 405)
    assert problem["type"] == "/api/v1/problems/method-not-allowed"
    assert "PATCH" in response.headers["Allow"]


def test_pages_outside_the_api_keep_their_own_errors(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"] != "application/problem+json"


def test_problem_types_are_documented(client: TestClient, admin: dict[str, str]) -> None:
    problem = _problem(client.get(f"{PERSONS}/1", headers=admin), 404)
    doc = client.get(problem["type"])
    assert doc.status_code == 200
    assert doc.json()["status"] == 404
    listing = client.get("/api/v1/problems").json()
    assert {p["status"] for p in listing} >= {400, 401, 403, 404, 409, 412, 415, 422, 500}
    _problem(client.get("/api/v1/problems/no-such-problem"), 404)


def test_unexpected_errors_are_problems_without_internals(
    client: TestClient, admin: dict[str, str], create: Callable[..., dict[str, Any]]
) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    pid = create(family_name="Boom")["id"]

    def explode(*_args: object) -> None:
        raise RuntimeError("secret internals")

    event.listen(Session, "do_orm_execute", explode)
    try:
        with TestClient(client.app, raise_server_exceptions=False) as c:
            response = c.get(f"{PERSONS}/{pid}", headers=admin)
    finally:
        event.remove(Session, "do_orm_execute", explode)
    problem = _problem(response, 500)
    assert "secret" not in response.text
    assert problem["type"] == "/api/v1/problems/internal-error"
