"""``/api/v1/sync``: single and batch upserts of persons, orders and events from an ERP or a
web shop; per-item results; idempotency keys (replay, reuse, in progress); limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Email, Person
from closedloop.db.base import utcnow
from closedloop.db.uow import unit_of_work
from closedloop.ingest.models import ImportReject
from closedloop.interfaces.models import IdempotencyKey, InterfaceEvent
from closedloop.interfaces.settings import get_interfaces_settings
from closedloop.jobs import service as jobs
from closedloop.transactions.models import Order, OrderLine, Product

SYNC = "/api/v1/sync"


@pytest.fixture()
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CLOSEDLOOP_SYNC_MAX_ITEMS", "5")
    monkeypatch.setenv("CLOSEDLOOP_SYNC_MAX_BODY_BYTES", "4096")
    get_interfaces_settings.cache_clear()
    yield
    get_interfaces_settings.cache_clear()


def _persons(session: Session) -> list[Person]:
    return list(session.scalars(select(Person).order_by(Person.external_id)))


def test_single_person_created_then_unchanged_then_updated(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    item = {
        "external_id": "C-1",
        "given_name": "jean",
        "family_name": "DUPONT",
        "email": "Jean.Dupont@Example.com",
        "phone": "06 12 34 56 78",
        "postal_code": "75011",
        "locality": "paris",
    }
    first = client.post(f"{SYNC}/persons?source=erp", json=item, headers=admin)
    assert first.status_code == 201, first.text
    result = first.json()["items"][0]
    assert result["status"] == "created" and result["external_id"] == "C-1"
    person = session.get(Person, result["id"])
    assert person is not None
    assert (person.given_name, person.family_name, person.source_system) == (
        "Jean",
        "Dupont",
        "erp",
    )
    assert person.phones[0].e164 == "+33612345678"
    assert person.addresses[0].locality == "Paris"
    again = client.post(f"{SYNC}/persons?source=erp", json=item, headers=admin)
    assert again.status_code == 200 and again.json()["items"][0]["status"] == "unchanged"
    changed = client.post(
        f"{SYNC}/persons?source=erp",
        json={"external_id": "C-1", "family_name": "Durand"},
        headers=admin,
    )
    assert changed.status_code == 200 and changed.json()["items"][0]["status"] == "updated"
    session.expire_all()
    person = session.get(Person, result["id"])
    assert person is not None and person.family_name == "Durand" and person.given_name == "Jean"
    assert person.emails[0].address == "Jean.Dupont@example.com"


def test_single_invalid_person_is_a_422_problem_naming_the_field(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    # A mistyped email is left out of a person kept for her name (a warning)…
    kept = client.post(
        f"{SYNC}/persons?source=erp",
        json={"external_id": "C-1", "family_name": "Pop", "email": "ana@gmial.com"},
        headers=admin,
    )
    assert kept.status_code == 201, kept.text
    warning = kept.json()["items"][0]["warnings"][0]
    assert warning["field"] == "email" and "gmail.com" in warning["reason"]
    assert kept.json()["counts"]["kept_with_warnings"] == 1
    # …but refuses an item that names nobody without it.
    response = client.post(
        f"{SYNC}/persons?source=erp",
        json={"external_id": "C-2", "email": "ana@gmial.com"},
        headers=admin,
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["errors"][0]["field"] == "email"
    assert "gmail.com" in problem["errors"][0]["message"]
    assert [p.external_id for p in _persons(session)] == ["C-1"]


def test_batch_with_mixed_items_stores_the_valid_ones_only(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    items: list[Any] = [
        {"external_id": "A1", "given_name": "Ana", "family_name": "Pop", "email": "ana@pop.ro"},
        {
            "external_id": "A2",
            "family_name": "Bad",
            "birth_date": "31/02/2024",
            "email": "bad@example.com",
        },
        {"external_id": "A3", "family_name": "Nested", "email": {"x": 1}},
        {"given_name": "No id"},
        {"external_id": "A1", "family_name": "Twice"},
        "not an object",
        {"external_id": "A6", "family_name": "Ok", "colour": "blue"},
        {"external_id": "A7", "family_name": "Ok", "phone": "+33 6 12 34 56 79"},
    ]
    response = client.post(f"{SYNC}/persons?source=shop", json={"items": items}, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    statuses = [r["status"] for r in body["items"]]
    assert statuses == [
        "created",
        "created",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "created",
    ]
    # the impossible birth date is left out, the person kept (issue 12)
    warned = body["items"][1]["warnings"][0]
    assert warned["field"] == "birth_date" and warned["index"] == 1
    errors = {r["index"]: r["errors"][0] for r in body["items"] if r["status"] == "rejected"}
    assert errors[2]["field"] == "email" and "string, number or boolean" in errors[2]["reason"]
    assert errors[3]["field"] == "external_id"
    assert errors[4]["field"] == "external_id" and "item 0" in errors[4]["reason"]
    assert "JSON object" in errors[5]["reason"]
    assert errors[6]["field"] == "colour" and "unknown field" in errors[6]["reason"]
    assert body["counts"] == {
        "rows": 8,
        "new": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 5,
        "kept_with_warnings": 1,
    }
    assert [p.external_id for p in _persons(session)] == ["A1", "A2", "A7"]
    # nothing of a rejected item was written: no email of "nested"
    assert session.scalar(select(func.count()).select_from(Email)) == 2


def test_orders_with_lines_and_unknown_references(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    session.add(Product(sku="BK-1", name="Book", unit_price=12))
    session.commit()
    client.post(
        f"{SYNC}/persons?source=shop",
        json={"external_id": "P1", "family_name": "Ana"},
        headers=admin,
    )
    orders = [
        {
            "external_id": "O1",
            "person_external_id": "P1",
            "ordered_at": "2025-03-01T10:00:00Z",
            "total_amount": "24,00",
            "lines": [{"sku": "BK-1", "quantity": 2}],
        },
        {
            "external_id": "O2",
            "person_external_id": "NOBODY",
            "ordered_at": "2025-03-02",
            "total_amount": 5,
            "lines": [{"sku": "BK-1"}],
        },
        {
            "external_id": "O3",
            "person_external_id": "P1",
            "ordered_at": "2025-03-03",
            "total_amount": 5,
            "lines": [{"sku": "BK-1"}, {"sku": "NOPE"}],
        },
        {"external_id": "O4", "person_external_id": "P1", "total_amount": 1},
    ]
    response = client.post(f"{SYNC}/orders?source=shop", json={"items": orders}, headers=admin)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [r["status"] for r in items] == ["created", "rejected", "rejected", "rejected"]
    assert items[1]["errors"][0]["field"] == "person_external_id"
    assert "unknown person 'NOBODY'" in items[1]["errors"][0]["reason"]
    assert items[2]["errors"][0]["field"] == "lines[1].sku"
    assert "unknown product 'NOPE'" in items[2]["errors"][0]["reason"]
    assert items[3]["errors"][0]["field"] == "ordered_at"
    stored = list(session.scalars(select(Order)))
    assert [o.external_id for o in stored] == ["O1"]  # O3 rejected whole: no order without line
    line = session.scalars(select(OrderLine)).one()
    assert (line.quantity, line.amount) == (2, 24)
    again = client.post(f"{SYNC}/orders?source=shop", json=orders[0], headers=admin)
    assert again.json()["items"][0]["status"] == "unchanged"
    orders[0]["lines"] = [{"sku": "BK-1", "quantity": 3, "line_no": 1}]
    changed = client.post(f"{SYNC}/orders?source=shop", json=orders[0], headers=admin)
    assert changed.json()["items"][0]["status"] == "updated"


def test_events_are_upserted_and_checked(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    client.post(
        f"{SYNC}/persons?source=shop",
        json={"external_id": "P1", "family_name": "Ana"},
        headers=admin,
    )
    events = [
        {
            "external_id": "E1",
            "kind": "page_view",
            "occurred_at": "2025-03-01T10:00:00Z",
            "person_external_id": "P1",
            "url": "https://shop.example/a",
            "detail": {"ref": "ad"},
        },
        {"external_id": "E2", "kind": "store_visit", "occurred_at": "2025-03-01", "store": "Lyon"},
        {"external_id": "E3", "kind": "teleport", "occurred_at": "2025-03-01"},
        {
            "external_id": "E4",
            "kind": "cart_add",
            "occurred_at": "2025-03-01",
            "person_external_id": "GHOST",
        },
    ]
    body = client.post(f"{SYNC}/events?source=shop", json={"items": events}, headers=admin).json()
    assert [r["status"] for r in body["items"]] == ["created", "created", "rejected", "rejected"]
    assert "unknown kind 'teleport'" in body["items"][2]["errors"][0]["reason"]
    assert body["items"][3]["errors"][0]["field"] == "person_external_id"
    stored = {e.external_id: e for e in session.scalars(select(InterfaceEvent))}
    assert stored["E1"].person_id is not None and stored["E1"].detail == {"ref": "ad"}
    assert stored["E2"].person_id is None and stored["E2"].store == "Lyon"
    events[1]["store"] = "Lille"
    again = client.post(f"{SYNC}/events?source=shop", json={"items": events[:2]}, headers=admin)
    assert [r["status"] for r in again.json()["items"]] == ["unchanged", "updated"]


def test_malformed_json_names_the_position(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        f"{SYNC}/persons",
        content=b'{"items": [{"external_id": "A1",}]}',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"].endswith("/malformed-json")
    assert "line 1, column 33 (character 32)" in problem["detail"]


def test_over_the_limits_is_413(
    client: TestClient, admin: dict[str, str], small_limits: None, session: Session
) -> None:
    many = {"items": [{"external_id": f"X{i}", "family_name": "X"} for i in range(6)]}
    response = client.post(f"{SYNC}/persons", json=many, headers=admin)
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
    assert "at most 5" in response.json()["detail"]
    huge = {"external_id": "H", "family_name": "x" * 5000}
    response = client.post(f"{SYNC}/persons", json=huge, headers=admin)
    assert response.status_code == 413 and "4,096" in response.json()["detail"]
    assert _persons(session) == []
    doc = client.get("/api/v1/problems/payload-too-large")
    assert doc.status_code == 200 and doc.json()["status"] == 413


def test_idempotency_replay_and_reuse(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    headers = {**admin, "Idempotency-Key": "k-123"}
    item = {"external_id": "I1", "family_name": "Idem"}
    first = client.post(f"{SYNC}/persons?source=erp", json=item, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    client.post(
        f"{SYNC}/persons?source=erp",
        json={"external_id": "I1", "family_name": "Other"},
        headers={**admin, "Idempotency-Key": "k-other"},
    )
    replay = client.post(f"{SYNC}/persons?source=erp", json=item, headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()  # the stored answer, not a new "updated"
    assert [p.family_name for p in _persons(session)] == ["Other"]  # not applied twice
    reused = client.post(
        f"{SYNC}/persons?source=erp", json={**item, "given_name": "Z"}, headers=headers
    )
    assert reused.status_code == 422
    assert reused.json()["type"].endswith("/idempotency-key-reused")


def test_idempotency_keys_are_scoped_per_user(
    client: TestClient, auth: Any, session: Session
) -> None:
    one, two = auth("admin", "one"), auth("admin", "two")
    item = {"external_id": "S1", "family_name": "Scope"}
    a = client.post(f"{SYNC}/persons", json=item, headers={**one, "Idempotency-Key": "same"})
    b = client.post(f"{SYNC}/persons", json=item, headers={**two, "Idempotency-Key": "same"})
    assert a.json()["items"][0]["status"] == "created"
    assert "Idempotent-Replayed" not in b.headers
    assert b.json()["items"][0]["status"] == "unchanged"


def test_concurrent_requests_with_one_key(
    client: TestClient, admin: dict[str, str], engine: Engine, factory: sessionmaker[Session]
) -> None:
    """The second request arrives while the first (a big batch) is running: 409; once the
    first is done, the same request is replayed."""
    batch = {
        "items": [
            {
                "external_id": f"B{i}",
                "given_name": "Big",
                "family_name": f"N{i}",
                "email": f"b{i}@example.com",
            }
            for i in range(1000)
        ]
    }
    headers = {**admin, "Idempotency-Key": "big-1"}
    answers: list[Any] = []
    worker = threading.Thread(
        target=lambda: answers.append(client.post(f"{SYNC}/persons", json=batch, headers=headers))
    )
    worker.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with factory() as s:
            if s.scalar(select(IdempotencyKey.status)) == "in_progress":
                break
        time.sleep(0.005)
    second = client.post(f"{SYNC}/persons", json=batch, headers=headers)
    worker.join()
    assert answers[0].status_code == 200, answers[0].text
    assert second.status_code == 409, second.text
    assert second.json()["type"].endswith("/idempotency-key-in-use")
    third = client.post(f"{SYNC}/persons", json=batch, headers=headers)
    assert third.status_code == 200 and third.headers["Idempotent-Replayed"] == "true"
    assert third.json()["counts"]["new"] == 1000


def test_expired_idempotency_keys_are_purged_by_their_job(
    client: TestClient, admin: dict[str, str], engine: Engine, factory: sessionmaker[Session]
) -> None:
    for key in ("old", "fresh"):
        item = {"external_id": f"P-{key}", "family_name": "Purge"}
        sent = client.post(
            f"{SYNC}/persons?source=erp", json=item, headers={**admin, "Idempotency-Key": key}
        )
        assert sent.status_code == 201
    with unit_of_work(factory) as s:
        old = s.scalars(select(IdempotencyKey).where(IdempotencyKey.key == "old")).one()
        old.expires_at = utcnow() - timedelta(minutes=1)
        job_id = jobs.enqueue(s, "interfaces.purge_idempotency_keys").id
    jobs.run_pending(engine)
    with unit_of_work(factory) as s:
        assert jobs.get_job(s, job_id).result == {"purged": 1}
        assert s.scalars(select(IdempotencyKey.key)).all() == ["fresh"]


def test_numbers_too_large_for_the_store_are_rejected_on_every_store(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    session.add(Product(sku="BK-1", name="Book", unit_price=12))
    session.commit()
    client.post(
        f"{SYNC}/persons?source=shop", json={"external_id": "P1", "family_name": "Ana"},
        headers=admin,
    )  # fmt: skip
    order = {"person_external_id": "P1", "ordered_at": "2025-03-01", "lines": [{"sku": "BK-1"}]}
    orders = [
        {**order, "external_id": "O1", "total_amount": "10000000000000"},
        {
            **order,
            "external_id": "O2",
            "total_amount": 5,
            "lines": [{"sku": "BK-1", "quantity": 10**10}],
        },
        {**order, "external_id": "O3", "total_amount": 5},
    ]
    response = client.post(f"{SYNC}/orders?source=shop", json={"items": orders}, headers=admin)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [r["status"] for r in items] == ["rejected", "rejected", "created"]
    assert items[0]["errors"][0]["field"] == "total_amount"
    assert "at most 999,999,999,999.99" in items[0]["errors"][0]["reason"]
    assert items[1]["errors"][0]["field"] == "lines[0].quantity"
    events = [
        {"external_id": "E1", "kind": "purchase", "occurred_at": "2025-03-01",
         "amount": "1000000000000000"},
        {"external_id": "E2", "kind": "page_view", "occurred_at": "2025-03-01", "detail": None},
    ]  # fmt: skip
    body = client.post(f"{SYNC}/events?source=shop", json={"items": events}, headers=admin).json()
    assert [r["status"] for r in body["items"]] == ["rejected", "created"], body
    assert body["items"][0]["errors"][0]["field"] == "amount"
    assert "too large" in body["items"][0]["errors"][0]["reason"]
    stored = session.scalars(select(InterfaceEvent)).one()
    assert stored.external_id == "E2" and stored.detail is None


def test_a_refused_order_with_nul_bytes_is_reported_not_a_server_error(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    """Found by schemathesis on PostgreSQL: a NUL in a refused value reached the rejects table
    (PostgreSQL refuses NUL in text) and gave a 500."""
    order = {"external_id": "O\x00", "ordered_at": "", "lines": [{"sku\x00": "a\x00b"}]}
    response = client.post(f"{SYNC}/orders?source=shop", json={"items": [order]}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["status"] == "rejected"
    with engine.connect() as conn:
        stored = conn.execute(select(ImportReject.value, ImportReject.reason)).all()
    assert stored and all("\x00" not in (v or "") + r for v, r in stored)
