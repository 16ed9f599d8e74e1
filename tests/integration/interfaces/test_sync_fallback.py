"""The sync API when the database itself refuses an item (a rule the validation does not
know: here a trigger of the test database raising a constraint violation). The batch is
written again item by item: the good items are stored, the refused one is rejected alone,
with the database's reason, and nothing of it is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Email, Person
from closedloop.db.uow import unit_of_work
from closedloop.ingest.models import ImportReject
from closedloop.interfaces import webhooks
from closedloop.interfaces.models import InterfaceEvent, WebhookDelivery
from closedloop.transactions.models import Order, Product

#: The receivers run on 127.0.0.1, an internal address webhooks refuse by default.
pytestmark = pytest.mark.usefixtures("allow_private_webhooks")

SYNC = "/api/v1/sync"
REFUSED = "the database refused the item: refused by a rule of the test database"
Refuse = Callable[..., None]


def _post(client: TestClient, headers: dict[str, str], kind: str, items: list[Any]) -> Any:
    response = client.post(f"{SYNC}/{kind}?source=erp", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("errcode", ["check_violation", "raise_exception"])
def test_a_person_the_database_refuses_is_rejected_alone(
    client: TestClient, api_headers: dict[str, str], session: Session, refuse: Refuse, errcode: str
) -> None:
    old = {"external_id": "U1", "family_name": "Old", "email": "u1@example.com"}
    assert _post(client, api_headers, "persons", [old])["items"][0]["status"] == "created"
    refuse("persons", "NEW.family_name = 'Refused'", errcode)
    items = [
        {"external_id": "G1", "family_name": "Good", "email": "g1@example.com"},
        {"external_id": "B1", "family_name": "Refused", "email": "b1@example.com"},
        {"external_id": "U1", "family_name": "Refused", "email": "u1.new@example.com"},
        {"external_id": "G2", "family_name": "Fine", "phone": "+33 6 12 34 56 78"},
    ]
    body = _post(client, api_headers, "persons", items)
    assert [r["status"] for r in body["items"]] == ["created", "rejected", "rejected", "created"]
    for refused in body["items"][1:3]:
        assert refused["id"] is None
        [error] = refused["errors"]
        assert error["field"] is None and error["reason"].startswith(REFUSED)
    assert body["counts"] == {"rows": 4, "new": 2, "updated": 0, "unchanged": 0, "rejected": 2}
    people = {p.external_id: p for p in session.scalars(select(Person))}
    assert sorted(people) == ["G1", "G2", "U1"]
    assert people["G1"].emails[0].address == "g1@example.com"
    assert people["G2"].phones[0].e164 == "+33612345678"
    # nothing of a refused item: no new person, no name change, no email added on the side
    assert people["U1"].family_name == "Old"
    addresses = set(session.scalars(select(Email.address)))
    assert addresses == {"u1@example.com", "g1@example.com"}
    rejects = session.scalars(
        select(ImportReject)
        .where(ImportReject.batch_id == body["batch_id"])
        .order_by(ImportReject.line_no)
    ).all()
    assert [(r.line_no, r.reason.startswith(REFUSED)) for r in rejects] == [(1, True), (2, True)]


def test_an_order_whose_line_the_database_refuses_is_rejected_whole(
    client: TestClient, api_headers: dict[str, str], session: Session, refuse: Refuse
) -> None:
    session.add_all([Product(sku="A", name="A", unit_price=1), Product(sku="B", name="B")])
    session.commit()
    _post(client, api_headers, "persons", [{"external_id": "P1", "family_name": "Buyer"}])
    refuse("order_lines", "NEW.quantity = 13")

    def order(key: str, *lines: dict[str, Any]) -> dict[str, Any]:
        return {
            "external_id": key,
            "person_external_id": "P1",
            "ordered_at": "2025-03-01",
            "total_amount": 10,
            "lines": list(lines),
        }

    items = [
        order("O1", {"sku": "A", "quantity": 2}, {"sku": "B", "unit_price": 3}),
        order("O2", {"sku": "A"}, {"sku": "B", "quantity": 13, "unit_price": 1}),
        order("O3", {"sku": "A", "quantity": 4}),
    ]
    body = _post(client, api_headers, "orders", items)
    assert [r["status"] for r in body["items"]] == ["created", "rejected", "created"]
    assert body["items"][1]["errors"][0]["reason"].startswith(REFUSED)
    stored = {o.external_id: o for o in session.scalars(select(Order))}
    assert sorted(stored) == ["O1", "O3"]  # O2 is not stored, not even without its lines
    assert [int(line.quantity) for line in stored["O1"].lines] == [2, 1]
    assert [int(line.quantity) for line in stored["O3"].lines] == [4]


def test_an_event_the_database_refuses_is_rejected_alone(
    client: TestClient,
    api_headers: dict[str, str],
    session: Session,
    factory: sessionmaker[Session],
    refuse: Refuse,
) -> None:
    with unit_of_work(factory) as s:
        webhooks.create_endpoint(s, "http://127.0.0.1:9/in", ["response.recorded"])
    _post(client, api_headers, "persons", [{"external_id": "P1", "family_name": "Shopper"}])
    refuse("interface_events", "NEW.store = 'Nowhere'")

    def visit(key: str, store: str) -> dict[str, Any]:
        return {
            "external_id": key,
            "kind": "store_visit",
            "occurred_at": "2025-03-01T10:00:00Z",
            "person_external_id": "P1",
            "store": store,
        }

    body = _post(
        client,
        api_headers,
        "events",
        [visit("E1", "Lyon"), visit("E2", "Nowhere"), visit("E3", "Lille")],
    )
    assert [r["status"] for r in body["items"]] == ["created", "rejected", "created"]
    assert body["items"][1]["errors"][0]["reason"].startswith(REFUSED)
    assert sorted(session.scalars(select(InterfaceEvent.external_id))) == ["E1", "E3"]
    # only the stored visits are announced as responses
    deliveries = session.scalars(select(WebhookDelivery.body)).all()
    assert sorted(d.split('"external_id":"')[1][:2] for d in deliveries) == ["E1", "E3"]
    again = _post(client, api_headers, "events", [visit("E1", "Nowhere"), visit("E3", "Lyon")])
    assert [r["status"] for r in again["items"]] == ["rejected", "updated"]
    stores = dict(session.execute(select(InterfaceEvent.external_id, InterfaceEvent.store)).all())
    assert stores == {"E1": "Lyon", "E3": "Lyon"}
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 2
