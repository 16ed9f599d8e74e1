"""``response.recorded`` for the purchases and store visits synced as events, and
``person.unmerged`` when a merge is undone: queued in the writer's transaction, delivered to
a real local receiver by the job runner."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.merge import merge_persons, unmerge
from closedloop.interfaces import webhooks
from closedloop.interfaces.events import sync_events
from closedloop.interfaces.models import InterfaceEvent, WebhookDelivery
from closedloop.interfaces.outbox import DELIVER
from closedloop.interfaces.sync import sync_persons
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending
from closedloop.transactions.models import Order

from .conftest import Receiver

SYNC = "/api/v1/sync"


def _post(client: TestClient, headers: dict[str, str], kind: str, items: list[Any]) -> Any:
    response = client.post(f"{SYNC}/{kind}?source=shop", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _event(key: str, kind: str, person: str | None = "P1", **fields: Any) -> dict[str, Any]:
    event = {"external_id": key, "kind": kind, "occurred_at": "2025-03-01T10:00:00Z", **fields}
    if person is not None:
        event["person_external_id"] = person
    return event


def _received(receiver: Receiver, since: int = 0) -> dict[str, dict[str, Any]]:
    """The ``response.recorded`` data received, by the event's external id."""
    got = [r.json for r in receiver.requests[since:]]
    assert all(body["type"] == "response.recorded" for body in got)
    return {body["data"]["external_id"]: body["data"] for body in got}


def test_synced_purchases_and_store_visits_become_response_recorded(
    engine: Engine,
    client: TestClient,
    api_headers: dict[str, str],
    session: Session,
    factory: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    with unit_of_work(factory) as s:
        webhooks.create_endpoint(s, receiver.url, ["response.recorded"])
    _post(client, api_headers, "persons", [{"external_id": "P1", "family_name": "Shopper"}])
    order = {"external_id": "O1", "person_external_id": "P1", "ordered_at": "2025-03-01"}
    _post(client, api_headers, "orders", [{**order, "total_amount": "24.50"}])
    events = [
        _event("E1", "purchase", order_external_id="O1", amount="24,50", currency="eur"),
        _event("E2", "store_visit", store="Lyon"),
        _event("E3", "page_view", url="https://shop.example/a"),
        _event("E4", "purchase", person=None, amount=9),
        _event("E5", "cart_add", amount=12),
    ]
    body = _post(client, api_headers, "events", events)
    assert [r["status"] for r in body["items"]] == ["created"] * 5
    ids = {r["external_id"]: r["id"] for r in body["items"]}
    assert session.scalar(select(func.count()).where(Job.kind == DELIVER)) == 1
    run_pending(engine, kinds=[DELIVER])
    got = _received(receiver)
    assert sorted(got) == ["E1", "E2"]  # browsing, carts and anonymous events are no responses
    person_id = session.scalars(select(Person.id)).one()
    order_id = session.scalars(select(Order.id)).one()
    assert got["E1"] == {
        "person_id": person_id,
        "response_id": None,
        "kind": "purchase",
        "campaign_id": None,
        "communication_id": None,
        "order_id": order_id,
        "amount": "24.50",
        "occurred_at": "2025-03-01 10:00:00+00:00",
        "source_system": "shop",
        "interface_event_id": ids["E1"],
        "external_id": "E1",
        "event_kind": "purchase",
        "currency": "EUR",
        "store": None,
    }
    assert (got["E2"]["kind"], got["E2"]["event_kind"], got["E2"]["store"]) == (
        "visit",
        "store_visit",
        "Lyon",
    )
    assert got["E2"]["amount"] is None and got["E2"]["person_id"] == person_id
    seen = len(receiver.requests)
    later = [
        _event("E1", "purchase", amount="30"),  # already announced: a correction, not news
        _event("E3", "purchase", amount=5),  # the page view was a purchase after all
        _event("E4", "purchase", amount=9),  # the anonymous purchase now has its person
        _event("E5", "cart_add", amount=13),
    ]
    again = _post(client, api_headers, "events", later)
    assert [r["status"] for r in again["items"]] == ["updated"] * 4
    run_pending(engine, kinds=[DELIVER])
    assert sorted(_received(receiver, seen)) == ["E3", "E4"]
    assert _received(receiver, seen)["E4"]["person_id"] == person_id
    statuses = session.scalars(select(WebhookDelivery.status)).all()
    assert statuses == ["delivered"] * 4


def test_response_recorded_is_written_with_the_events_or_not_at_all(
    factory: sessionmaker[Session], session: Session, receiver: Receiver
) -> None:
    with unit_of_work(factory) as s:
        webhooks.create_endpoint(s, receiver.url, ["response.recorded"])
    with unit_of_work(factory) as s:
        sync_persons(s, [{"external_id": "P1", "family_name": "Shopper"}], source="shop")
    with pytest.raises(RuntimeError), unit_of_work(factory) as s:
        result = sync_events(s, [_event("V1", "store_visit")], source="shop")
        assert result.items[0].status == "created"
        queued = s.scalar(select(func.count()).select_from(WebhookDelivery))
        assert queued == 1  # in the writer's transaction…
        raise RuntimeError("the request fails after the events")
    # … so gone with it: no event, no delivery, no job
    assert session.scalar(select(func.count()).select_from(InterfaceEvent)) == 0
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert session.scalar(select(func.count()).where(Job.kind == DELIVER)) == 0
    with unit_of_work(factory) as s:
        sync_events(s, [_event("V1", "store_visit")], source="shop")
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1


def _person(factory: sessionmaker[Session], family: str, email: str) -> int:
    with unit_of_work(factory) as s:
        data = {"given_name": "Jean", "family_name": family, "emails": [{"address": email}]}
        return contacts_service.create_person(s, PersonCreate.model_validate(data)).id


def test_an_undone_merge_is_sent_as_person_unmerged(
    engine: Engine, factory: sessionmaker[Session], session: Session, receiver: Receiver
) -> None:
    golden = _person(factory, "Dupont", "jean@example.com")
    source = _person(factory, "Dupond", "jean.d@example.com")
    with unit_of_work(factory) as s:
        webhooks.create_endpoint(s, receiver.url, ["person.merged", "person.unmerged"])
    with unit_of_work(factory) as s:
        event_id = merge_persons(s, golden, source, merged_by="tester").id
    with unit_of_work(factory) as s:
        unmerge(s, event_id, undone_by="tester")
    run_pending(engine, kinds=[DELIVER])
    bodies = [r.json for r in receiver.requests]
    assert [b["type"] for b in bodies] == ["person.merged", "person.unmerged"]
    expected = {"golden_id": golden, "source_id": source, "merge_event_id": event_id}
    assert bodies[0]["data"] == expected and bodies[1]["data"] == expected
    assert bodies[0]["id"] != bodies[1]["id"]
    log = webhooks.list_deliveries(session, event_type="person.unmerged")
    assert log.total == 1 and log.items[0].status == "delivered"


def test_person_unmerged_is_a_subscribable_event_type(
    client: TestClient, api_headers: dict[str, str]
) -> None:
    types = client.get("/api/v1/webhooks/event-types", headers=api_headers).json()
    assert "person.unmerged" in types
    made = client.post(
        "/api/v1/webhooks",
        json={"url": "https://crm.example/in", "event_types": ["person.unmerged"]},
        headers=api_headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["event_types"] == ["person.unmerged"]
