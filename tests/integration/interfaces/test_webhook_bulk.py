"""Bulk writers and webhooks: the sync API's persons reach ``person.created`` /
``person.updated`` subscribers in one statement per event type; without a subscriber an
event costs no query at all."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.hookspecs import pm
from closedloop.interfaces import webhooks
from closedloop.interfaces.models import WebhookDelivery
from closedloop.interfaces.settings import get_interfaces_settings
from closedloop.interfaces.sync import sync_persons
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending

from .conftest import Receiver


def _items(n: int, family: str = "Bulk") -> list[dict[str, Any]]:
    return [{"external_id": f"K{i}", "family_name": f"{family}{i}"} for i in range(n)]


def test_no_subscriber_costs_no_query(
    engine: Engine, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache that cannot expire during the loop, however slow the machine is.
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_CACHE_SECONDS", "3600")
    get_interfaces_settings.cache_clear()
    with unit_of_work(factory) as s:
        result = sync_persons(s, _items(50), source="erp")
        ids = [r.id for r in result.items if r.id is not None]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    with factory() as s:
        pm.hook.persons_imported(session=s, person_ids=ids, batch_id=None)  # warms the cache
        event.listen(engine, "before_cursor_execute", count)
        try:
            for _ in range(100):
                pm.hook.persons_imported(session=s, person_ids=ids, batch_id=None)
                pm.hook.person_saved(session=s, person_id=ids[0], created=False)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    interfaces_sql = [q for q in statements if "webhook" in q]
    assert interfaces_sql == []
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    get_interfaces_settings.cache_clear()


def test_synced_persons_become_created_then_updated_events(
    engine: Engine, factory: sessionmaker[Session], session: Session, receiver: Receiver
) -> None:
    with unit_of_work(factory) as s:
        endpoint = webhooks.create_endpoint(s, receiver.url, ["person.created", "person.updated"])
        endpoint_id = endpoint.id
    with unit_of_work(factory) as s:
        sync_persons(s, _items(300), source="erp")
    deliver = select(func.count()).where(Job.kind == "webhooks.deliver")
    assert session.scalar(deliver) == 1  # one delivery job per endpoint, not per person
    with unit_of_work(factory) as s:
        changed = _items(300)[:10]
        for item in changed:
            item["family_name"] += "x"
        sync_persons(s, changed + _items(300)[10:20], source="erp")
    run_pending(engine)
    types = [r.json["type"] for r in receiver.requests]
    assert types.count("person.created") == 300 and types.count("person.updated") == 10
    assert len({r.json["id"] for r in receiver.requests}) == 310
    updated = [r.json["data"] for r in receiver.requests if r.json["type"] == "person.updated"]
    assert {d["external_id"] for d in updated} == {f"K{i}" for i in range(10)}
    assert all(d["family_name"].endswith("x") for d in updated)
    page = webhooks.list_deliveries(session, endpoint_id=endpoint_id, status="delivered")
    assert page.total == 310
