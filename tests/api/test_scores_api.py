"""``/api/v1/scores/runs`` and ``/api/v1/persons/{id}/scores``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.jobs.service import run_pending
from closedloop.transactions.models import Order
from closedloop.users.models import AuditEvent

RUNS = "/api/v1/scores/runs"
AS_OF = date(2026, 11, 22)


@pytest.fixture()
def buyers(factory: sessionmaker[Session]) -> list[int]:
    """150 buyers of a seeded buy-till-you-die process over three years; the sixth one has
    six purchases."""
    rng = np.random.default_rng(4)
    ids = []
    with unit_of_work(factory) as s:
        for i in range(150):
            person = Person(given_name=f"Buyer {i}")
            s.add(person)
            s.flush()
            ids.append(person.id)
            ago = int(rng.integers(30, 1000))
            days = [ago]
            while len(days) < (6 if i == 5 else 40) and (i == 5 or rng.random() > 0.3):
                ago -= 1 + int(rng.exponential(rng.gamma(1.0, 60.0)))
                if ago < 0:
                    break
                days.append(ago)
            for k, back in enumerate(days[: 6 if i == 5 else None]):
                day = AS_OF - timedelta(days=back)
                s.add(
                    Order(
                        person_id=person.id,
                        ordered_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
                        total_amount=Decimal(20 + 3 * (i % 40) + k),
                        currency="EUR",
                    )
                )
    return ids


def _wait(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, object]:
    for _ in range(300):
        body: dict[str, object] = client.get(url, headers=headers).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError("the run did not finish")


def test_start_queues_a_job_and_poll(
    client: TestClient, auth: Callable[..., dict[str, str]], buyers: list[int], engine: Engine
) -> None:
    analyst = auth("analyst")
    response = client.post(RUNS, json={"as_of": "2026-11-22", "horizon_days": 180}, headers=analyst)
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["status"] in ("queued", "running", "done")
    assert run["params"]["horizon_days"] == 180 and run["params"]["base_currency"] == "EUR"
    assert response.headers["location"] == f"{RUNS}/{run['id']}"
    assert client.get(response.headers["location"], headers=analyst).json()["status"] == "queued"
    assert run_pending(engine) == 2  # the run, then the demand snapshot it queues
    body = _wait(client, response.headers["location"], analyst)
    assert body["status"] == "done", body
    assert body["summary"]["buyers"] == 150  # type: ignore[index]
    assert body["models"]["clv"]["horizon_days"] == 180  # type: ignore[index]
    listed = client.get(RUNS, headers=analyst).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == run["id"]


def test_wait_returns_the_finished_run_and_person_scores(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    buyers: list[int],
    factory: sessionmaker[Session],
) -> None:
    admin = auth("admin")
    response = client.post(f"{RUNS}?wait=true", json={"as_of": "2026-11-22"}, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "done"
    again = client.post(f"{RUNS}?wait=true", json={"as_of": "2026-10-01"}, headers=admin)
    assert again.status_code == 201
    agent = auth("agent")
    scores = client.get(f"/api/v1/persons/{buyers[5]}/scores", headers=agent)
    assert scores.status_code == 200
    rows = scores.json()
    assert [r["as_of"][:10] for r in rows] == ["2026-11-22", "2026-10-01"]
    assert rows[0]["tier"] in ("A", "B", "C") and rows[0]["rfm_code"]
    assert rows[0]["purchase_days"] == 6
    with factory() as s:
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {"start", "view_scores"} <= actions


def test_permissions_and_errors(
    client: TestClient, auth: Callable[..., dict[str, str]], buyers: list[int]
) -> None:
    agent = auth("agent")
    assert client.post(RUNS, json={}, headers=agent).status_code == 403
    assert client.get(RUNS, headers=agent).status_code == 403
    assert client.get(RUNS).status_code == 401
    analyst = auth("analyst")
    bad = client.post(RUNS, json={"tier_shares": [0.8, 0.5]}, headers=analyst)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "tier_shares"
    unknown = client.post(RUNS, json={"horizon": 3}, headers=analyst)
    assert unknown.status_code == 422
    assert client.get(f"{RUNS}/999", headers=analyst).status_code == 404
    assert client.get("/api/v1/persons/999999/scores", headers=analyst).status_code == 404


def test_a_failing_run_answers_with_its_problem(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    factory: sessionmaker[Session],
    buyers: list[int],
) -> None:
    with unit_of_work(factory) as s:
        s.add(
            Order(
                person_id=buyers[0],
                ordered_at=datetime(2026, 5, 1, tzinfo=UTC),
                total_amount=Decimal(5),
                currency="GBP",
            )
        )
    analyst = auth("analyst")
    response = client.post(f"{RUNS}?wait=true", json={"as_of": "2026-11-22"}, headers=analyst)
    assert response.status_code == 422
    assert "GBP" in response.json()["detail"]
    runs = client.get(RUNS, headers=analyst).json()["items"]
    assert runs[0]["status"] == "failed" and "GBP" in runs[0]["error"]
