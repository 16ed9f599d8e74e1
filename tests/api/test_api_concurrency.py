"""Concurrent edits: optimistic locking loses no update, and a failed commit never answers 200."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from closedloop.users.models import AuditEvent

PERSONS = "/api/v1/persons"
Create = Callable[..., dict[str, Any]]


def test_second_edit_from_a_stale_read_is_refused(
    app: FastAPI, admin: dict[str, str], create: Create
) -> None:
    pid = create(given_name="Ion", family_name="Popescu")["id"]
    with TestClient(app) as alice, TestClient(app) as bob:
        read_a = alice.get(f"{PERSONS}/{pid}", headers=admin).json()
        read_b = bob.get(f"{PERSONS}/{pid}", headers=admin).json()
        assert read_a["version"] == read_b["version"] == 1
        first = alice.patch(
            f"{PERSONS}/{pid}",
            headers=admin,
            json={"version": read_a["version"], "given_name": "Ioan"},
        )
        second = bob.patch(
            f"{PERSONS}/{pid}",
            headers=admin,
            json={"version": read_b["version"], "family_name": "Popa"},
        )
        assert first.status_code == 200
        assert second.status_code == 409
        assert second.headers["content-type"] == "application/problem+json"
        problem = second.json()
        assert problem["title"] == "Conflict"
        assert "changed by someone else" in problem["detail"]
        stored = alice.get(f"{PERSONS}/{pid}", headers=admin).json()
    assert stored["given_name"] == "Ioan"
    assert stored["family_name"] == "Popescu"
    assert stored["version"] == 2


def test_racing_threads_exactly_one_wins(
    app: FastAPI, admin: dict[str, str], create: Create
) -> None:
    pid = create(family_name="Race")["id"]
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: dict[int, tuple[int, dict[str, Any]]] = {}

    def edit(i: int) -> None:
        with TestClient(app) as c:
            barrier.wait()
            response = c.patch(
                f"{PERSONS}/{pid}", headers=admin, json={"version": 1, "given_name": f"T{i}"}
            )
            results[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200] + [409] * (threads_count - 1), results
    (winner,) = [i for i, (status, _) in results.items() if status == 200]
    stored = TestClient(app).get(f"{PERSONS}/{pid}", headers=admin).json()
    assert stored["given_name"] == f"T{winner}"
    assert stored["version"] == 2


def test_if_match(client: TestClient, admin: dict[str, str], create: Create) -> None:
    pid = create(family_name="Etag")["id"]
    etag = client.get(f"{PERSONS}/{pid}", headers=admin).headers["ETag"]
    assert etag == '"1"'
    ok = client.patch(
        f"{PERSONS}/{pid}",
        headers={**admin, "If-Match": etag},
        json={"version": 1, "given_name": "A"},
    )
    assert ok.status_code == 200
    assert ok.headers["ETag"] == '"2"'
    # A stale If-Match fails with 412 even when the body's version is current.
    stale = client.patch(
        f"{PERSONS}/{pid}",
        headers={**admin, "If-Match": etag},
        json={"version": 2, "given_name": "B"},
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["type"] == "/api/v1/problems/precondition-failed"
    # A current If-Match with a stale body version is still a conflict.
    conflict = client.patch(
        f"{PERSONS}/{pid}",
        headers={**admin, "If-Match": '"2"'},
        json={"version": 1, "given_name": "C"},
    )
    assert conflict.status_code == 409
    bad = client.patch(f"{PERSONS}/{pid}", headers={**admin, "If-Match": "2"}, json={"version": 2})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "If-Match"
    stored = client.get(f"{PERSONS}/{pid}", headers=admin).json()
    assert stored["given_name"] == "A" and stored["version"] == 2
    gone = client.delete(f"{PERSONS}/{pid}", headers={**admin, "If-Match": '"1"'})
    assert gone.status_code == 412
    assert (
        client.delete(f"{PERSONS}/{pid}", headers={**admin, "If-Match": '"2"'}).status_code == 204
    )


@pytest.mark.parametrize("header", ['"1", "2"', 'W/"2"', "*"])
def test_if_match_forms(
    client: TestClient, admin: dict[str, str], create: Create, header: str
) -> None:
    pid = create(family_name="Forms")["id"]
    client.patch(f"{PERSONS}/{pid}", headers=admin, json={"version": 1, "gender": "female"})
    response = client.patch(
        f"{PERSONS}/{pid}", headers={**admin, "If-Match": header}, json={"version": 2}
    )
    assert response.status_code == 200, response.text


@pytest.fixture()
def failing_commit() -> Iterator[None]:
    """Make the commit of a request that records an update fail (as a lost connection would)."""

    def fail(session: Session) -> None:
        if any(isinstance(o, AuditEvent) and o.action == "update" for o in session.new):
            raise RuntimeError("commit failed")

    event.listen(Session, "before_commit", fail)
    yield
    event.remove(Session, "before_commit", fail)


def test_a_failed_commit_never_answers_200(
    app: FastAPI, admin: dict[str, str], create: Create, failing_commit: None
) -> None:
    """The unit of work commits before the response is sent (``scope="function"``)."""
    pid = create(family_name="Durable")["id"]
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.patch(f"{PERSONS}/{pid}", headers=admin, json={"version": 1, "gender": "male"})
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        stored = c.get(f"{PERSONS}/{pid}", headers=admin).json()
    assert stored["gender"] is None
    assert stored["version"] == 1
