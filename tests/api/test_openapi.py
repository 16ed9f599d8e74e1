"""The API documents itself: Swagger UI at /docs, OpenAPI with every route's docstring."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_docs_and_openapi_answer(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "closedloop"


def test_persons_routes_carry_their_docstrings(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    operations = {
        ("/api/v1/persons", "get"): "List persons",
        ("/api/v1/persons", "post"): "Create a person",
        ("/api/v1/persons/{person_id}", "get"): "Read one person",
        ("/api/v1/persons/{person_id}", "patch"): "optimistic locking",
        ("/api/v1/persons/{person_id}", "delete"): "Delete a person",
        ("/api/v1/persons/{person_id}/card", "get"): "whole person card",
    }
    for (path, method), text in operations.items():
        operation = paths[path][method]
        assert text in operation["description"], (path, method)
        assert operation["security"] == [{"token": []}]
        assert (
            "200" in operation["responses"]
            or "201" in operation["responses"]
            or ("204" in operation["responses"])
        )
        problems = [r for s, r in operation["responses"].items() if s.startswith("4")]
        assert problems, (path, method)
        for response in problems:
            assert list(response["content"]) == ["application/problem+json"]
    listing = paths["/api/v1/persons"]["get"]
    params = {p["name"] for p in listing["parameters"]}
    assert params == {
        "q",
        "name",
        "email",
        "phone",
        "postal_code",
        "lifecycle_status",
        "country",
        "limit",
        "offset",
    }
    assert "PersonCardPublic" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"


def test_schema_names_follow_one_suffix_convention(client: TestClient) -> None:
    """Request bodies end in Create (or Update/Patch), answers in Public (ARCHITECTURE.md):
    no schema is named with the old ``In``/``Out`` suffixes."""
    names = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    old = sorted(n for n in names if n.endswith(("In", "Out")))
    assert old == []
    assert {"PersonRecordPublic", "SegmentCreate", "SegmentPublic", "WaveCreate"} <= set(names)
