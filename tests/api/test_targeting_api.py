"""``/api/v1/targeting``: propensity, clusters and the evaluation queued as jobs with their
results read back; a cluster frozen as a segment; recommendations, markets, comparison;
who may do what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.targeting.test_propensity import _biggest_category

from closedloop.demo.seed import seed_demo
from closedloop.jobs.service import run_pending
from closedloop.segments import SegmentMember
from closedloop.transactions.models import Order, OrderLine

URL = "/api/v1/targeting"
TODAY = date(2026, 11, 22)


@pytest.fixture()
def demo(engine: Engine, factory: sessionmaker[Session]) -> str:
    """A seeded demo base; returns its biggest category."""
    seed_demo(engine, 600, 7, today=TODAY)
    with factory() as session:
        return _biggest_category(session)


def test_clusters_as_a_job_then_one_becomes_a_segment(
    client: TestClient, auth: Callable[..., dict[str, str]], engine: Engine,
    factory: sessionmaker[Session], demo: str,
) -> None:  # fmt: skip
    analyst, marketer = auth("analyst"), auth("marketer")
    queued = client.post(f"{URL}/clusters", json={}, headers=analyst)
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert (job["kind"], job["status"]) == ("targeting.clusters", "queued")
    again = client.post(f"{URL}/clusters", json={}, headers=analyst)
    assert again.status_code == 409 and f"job {job['id']}" in again.json()["detail"]
    assert run_pending(engine, kinds=["targeting.clusters"]) == 1

    done = client.get(f"{URL}/results/{job['id']}", headers=analyst).json()
    assert done["status"] == "done" and done["progress"] == 1.0, done
    result = done["result"]
    assert 2 <= result["k"] <= 8 and len(result["clusters"]) == result["k"]
    assert sum(c["persons"] for c in result["clusters"]) == result["buyers"]
    first = result["clusters"][0]
    assert first["name"].endswith("buyers")

    # An analyst may not make segments; a marketer may, in one call.
    body = {"cluster": 1, "name": "Cluster one"}
    path = f"{URL}/clusters/{job['id']}/segments"
    assert client.post(path, json=body, headers=analyst).status_code == 403
    made = client.post(path, json=body, headers=marketer)
    assert made.status_code == 201, made.text
    assert made.json()["members"] == first["persons"]
    with factory() as s:
        members = s.scalars(
            select(SegmentMember.person_id).where(SegmentMember.segment_id == made.json()["id"])
        ).all()
    assert len(members) == first["persons"]
    clash = client.post(path, json=body, headers=marketer)
    assert clash.status_code == 409
    missing = client.post(path, json={"cluster": 12, "name": "x"}, headers=marketer)
    assert missing.status_code == 422 and "no cluster 12" in missing.json()["detail"]


def test_propensity_job_freezes_its_top_persons(
    client: TestClient, auth: Callable[..., dict[str, str]], engine: Engine, demo: str
) -> None:
    analyst, marketer = auth("analyst"), auth("marketer")
    bad = client.post(f"{URL}/propensity", json={"category": "nope"}, headers=analyst)
    assert bad.status_code == 422 and "Unknown category 'nope'" in bad.json()["detail"]
    asked = {"category": demo, "horizon_days": 180, "top": 25, "segment": "Likely"}
    assert client.post(f"{URL}/propensity", json=asked, headers=analyst).status_code == 403
    queued = client.post(f"{URL}/propensity", json=asked, headers=marketer)
    assert queued.status_code == 202, queued.text
    assert run_pending(engine, kinds=["targeting.propensity"]) == 1
    done = client.get(f"{URL}/results/{queued.json()['id']}", headers=analyst).json()
    assert done["status"] == "done", done
    result = done["result"]
    assert 0.5 < result["auc"] <= 1.0 and len(result["lift_by_decile"]) == 10
    assert result["segment"]["name"] == "Likely" and result["segment"]["members"] == 25
    segments = client.get("/api/v1/segments", headers=marketer).json()["items"]
    assert [s["name"] for s in segments] == ["Likely"]


def test_recommendations_markets_compare_and_evaluation(
    client: TestClient, auth: Callable[..., dict[str, str]], engine: Engine,
    factory: sessionmaker[Session], demo: str,
) -> None:  # fmt: skip
    agent, analyst = auth("agent"), auth("analyst")
    with factory() as s:
        buyer = s.scalars(select(Order.person_id).join(OrderLine).limit(1)).one()
        owned = set(
            s.scalars(select(OrderLine.product_id).join(Order).where(Order.person_id == buyer))
        )
    recs = client.get(f"{URL}/recommendations/{buyer}?n=4", headers=agent)
    assert recs.status_code == 200, recs.text
    items = recs.json()
    assert len(items) == 4 and not {i["product_id"] for i in items} & owned
    assert client.get(f"{URL}/recommendations/999999", headers=agent).status_code == 404

    markets = client.get(f"{URL}/markets", params={"category": demo}, headers=analyst)
    assert markets.status_code == 200, markets.text
    rows = markets.json()
    assert rows and sum(r["persons"] for r in rows) > 500
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert client.get(f"{URL}/markets", params={"category": demo}, headers=agent).status_code == 403
    nul = client.get(f"{URL}/markets", params={"category": "a\x00b"}, headers=analyst)
    assert nul.status_code == 422

    queued = client.post(f"{URL}/evaluation", json={"k": 5}, headers=analyst)
    assert queued.status_code == 202, queued.text
    assert run_pending(engine, kinds=["targeting.evaluation"]) == 1
    result = client.get(f"{URL}/results/{queued.json()['id']}", headers=analyst).json()["result"]
    assert result["model"]["hit_rate"] > result["popularity"]["hit_rate"]

    women = {"field": "gender", "op": "eq", "value": "female"}
    men = {"field": "gender", "op": "eq", "value": "male"}
    marketer = auth("marketer")
    for name, rule in (("Women", women), ("Men", men)):
        assert client.post("/api/v1/segments", json={"name": name, "rules": rule},
                           headers=marketer).status_code == 201  # fmt: skip
    side = client.get(f"{URL}/compare", params={"first": "Women", "second": "Men"},
                      headers=analyst)  # fmt: skip
    assert side.status_code == 200, side.text
    assert {r["feature"] for r in side.json()["features"]} >= {"frequency", "monetary"}
    unknown = client.get(f"{URL}/compare", params={"first": "Women", "second": "Nobody"},
                         headers=analyst)  # fmt: skip
    assert unknown.status_code == 404
