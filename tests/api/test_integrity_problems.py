"""A request that breaks a constraint of the database gets a 409 or a 422 problem, never a
500, and nothing of it is stored — for any route, also one whose service forgot to check.

The routes below are added to the real app for the test: each writes through the request's
own unit of work (``DbSession``) into the real store, as a route with a missing check would.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Offer
from closedloop.contacts.models import Email
from closedloop.deps import DbSession


def _add_routes(app: FastAPI) -> None:
    def email_for_unknown_person(db: DbSession) -> dict[str, str]:
        db.add(Email(person_id=987654321, address="x@example.org", address_key="x@example.org"))
        return {"status": "stored"}

    def offer_twice(db: DbSession) -> dict[str, str]:
        db.add(Offer(code="SPRING", name="Spring"))
        db.flush()
        db.add(Offer(code="SPRING", name="Spring again"))
        return {"status": "stored"}

    app.add_api_route("/api/v1/test-integrity/fk", email_for_unknown_person, methods=["POST"])
    app.add_api_route("/api/v1/test-integrity/unique", offer_twice, methods=["POST"])


def test_unknown_reference_is_a_422_and_nothing_is_stored(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    _add_routes(app)
    answer = client.post("/api/v1/test-integrity/fk")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith("/validation-failed")
    assert "does not exist" in problem["detail"]
    assert "INSERT" not in answer.text and "987654321" not in answer.text
    # PostgreSQL names the column; SQLite does not say which foreign key failed.
    assert [e["field"] for e in problem.get("errors", [])] in ([], ["person_id"])
    assert session.scalar(select(func.count()).select_from(Email)) == 0


def test_duplicate_value_is_a_409_naming_the_field(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    _add_routes(app)
    answer = client.post("/api/v1/test-integrity/unique")
    assert answer.status_code == 409
    problem = answer.json()
    assert problem["type"].endswith("/conflict")
    assert problem["errors"] == [{"field": "code", "message": "is already used by another record"}]
    assert "SPRING" not in answer.text
    assert session.scalar(select(func.count()).select_from(Offer)) == 0
