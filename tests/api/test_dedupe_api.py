"""The identity-resolution API: online check, queue, decisions, merge and unmerge, auth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from closedloop.jobs.service import run_pending

PERSONS = "/api/v1/persons"
JEAN = {
    "given_name": "Jean",
    "family_name": "Dupont",
    "birth_date": "1971-03-14",
    "emails": [{"address": "jean.dupont@example.com"}],
    "addresses": [{"line1": "12 rue de la Roquette", "postal_code": "75011",
                   "locality": "Paris", "country": "FR"}],
}  # fmt: skip


def test_check_before_create_finds_a_typo_not_a_namesake(
    client: TestClient, admin: dict[str, str], create: Callable[..., dict[str, Any]]
) -> None:
    jean = create(**JEAN)
    typo = {**JEAN, "family_name": "Dupond"}
    body = client.post(f"{PERSONS}/check-duplicates", json=typo, headers=admin).json()
    assert [c["person_id"] for c in body["items"]] == [jean["id"]]
    first = body["items"][0]
    assert first["likely"] and first["match_probability"] > 0.9
    assert first["display_name"] == "Jean Dupont"
    assert first["explanation"][0]["comparison"] == "prior"
    namesake = {"given_name": "Jean", "family_name": "Dupont", "birth_date": "1950-01-01",
                "addresses": [{"postal_code": "13001", "locality": "Marseille",
                               "country": "FR"}]}  # fmt: skip
    body = client.post(f"{PERSONS}/check-duplicates", json=namesake, headers=admin).json()
    assert body["items"] == []


def test_duplicates_of_a_person_queue_decision_merge_and_unmerge(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    admin: dict[str, str],
    create: Callable[..., dict[str, Any]],
) -> None:
    a = create(**JEAN, source_system="erp", external_id="E1")
    b = create(**{**JEAN, "given_name": "Jan"}, source_system="shop", external_id="S1")
    found = client.get(f"{PERSONS}/{b['id']}/duplicates", headers=admin).json()["items"]
    assert [c["person_id"] for c in found] == [a["id"]]
    page = client.get("/api/v1/duplicates", headers=admin).json()
    assert page["total"] == 1
    pair = page["items"][0]
    assert (pair["person_l_id"], pair["person_r_id"], pair["status"]) == (a["id"], b["id"],
                                                                          "pending")  # fmt: skip
    analyst = auth("analyst")
    refused = client.post(f"/api/v1/duplicates/{pair['id']}/decision",
                          json={"decision": "accept"}, headers=analyst)  # fmt: skip
    assert refused.status_code == 403
    assert client.get("/api/v1/duplicates").status_code == 401
    done = client.post(f"/api/v1/duplicates/{pair['id']}/decision",
                       json={"decision": "accept"}, headers=admin)  # fmt: skip
    assert done.status_code == 200, done.text
    merge_id = done.json()["merge_event_id"]
    assert client.get(f"{PERSONS}/{b['id']}", headers=admin).json()["merged_into_id"] == a["id"]
    undone = client.post(f"/api/v1/merges/{merge_id}/unmerge", headers=admin)
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone_at"] is not None
    assert client.get(f"{PERSONS}/{b['id']}", headers=admin).json()["merged_into_id"] is None
    again = client.post(f"/api/v1/merges/{merge_id}/unmerge", headers=admin)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


def test_manual_merge_and_not_a_duplicate(
    client: TestClient, admin: dict[str, str], create: Callable[..., dict[str, Any]]
) -> None:
    a = create(given_name="Ana", family_name="Pop", emails=[{"address": "ana@example.ro"}])
    b = create(given_name="Ana", family_name="Pop", emails=[{"address": "ana@example.ro"}])
    c = create(given_name="Ion", family_name="Pop")
    pair = client.get("/api/v1/duplicates", headers=admin).json()["items"][0]
    response = client.post(f"/api/v1/duplicates/{pair['id']}/decision",
                           json={"decision": "not_duplicate"}, headers=admin)  # fmt: skip
    assert response.json()["status"] == "not_duplicate"
    assert client.get(f"{PERSONS}/{b['id']}/duplicates", headers=admin).json()["items"] == []
    refused = client.post(f"{PERSONS}/{a['id']}/merge", json={"source_id": b["id"]},
                          headers=admin)  # fmt: skip
    assert refused.status_code == 409 and "not the same person" in refused.json()["detail"]
    merged = client.post(f"{PERSONS}/{a['id']}/merge", json={"source_id": c["id"]},
                         headers=admin)  # fmt: skip
    # equally complete names from equally trusted sources: the most recent record wins
    assert merged.status_code == 200 and merged.json()["origins"]["given_name"] == c["id"]
    bad = client.post("/api/v1/duplicates/1/decision", json={"decision": "maybe"}, headers=admin)
    assert bad.status_code == 422


def test_a_run_is_queued_as_a_job_and_polled(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    admin: dict[str, str],
    create: Callable[..., dict[str, Any]],
    engine: Engine,
) -> None:
    a = create(**JEAN, source_system="erp", external_id="E1")
    b = create(**{**JEAN, "family_name": "Dupond"}, source_system="shop", external_id="S1")
    assert client.post("/api/v1/dedupe/runs", headers=auth("analyst")).status_code == 403
    bad = client.post("/api/v1/dedupe/runs", headers=admin,
                      json={"threshold": 0.4, "review_threshold": 0.8})  # fmt: skip
    assert bad.status_code == 422 and "review threshold" in bad.json()["detail"]
    queued = client.post("/api/v1/dedupe/runs", headers=admin, json={"threshold": 0.95})
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert body["kind"] == "dedupe.run" and body["status"] == "queued"
    # Nothing ran in the request: the online pair is still pending, nobody merged.
    job = client.get(body["status_url"], headers=admin).json()
    assert job["status"] == "queued" and job["payload"]["threshold"] == 0.95
    assert client.get(f"{PERSONS}/{b['id']}", headers=admin).json()["merged_into_id"] is None
    assert run_pending(engine) >= 1
    job = client.get(body["status_url"], headers=admin).json()
    assert job["status"] == "done" and job["progress"] == 1.0, job
    assert job["result"]["persons"] == 2 and job["result"]["merges"] == 1
    assert job["result"]["threshold"] == 0.95
    merged = client.get(f"{PERSONS}/{b['id']}", headers=admin).json()
    assert merged["merged_into_id"] == a["id"]


def test_a_link_only_run_pairs_persons_of_different_sources_only(
    client: TestClient,
    admin: dict[str, str],
    create: Callable[..., dict[str, Any]],
    engine: Engine,
) -> None:
    """``link_only``: two sources each clean within itself. The two ERP records of Jean are
    two persons by that premise: neither is paired with the other, and only one of them is
    linked to the shop's record (a cluster holds one person per source)."""
    e1 = create(**JEAN, source_system="erp", external_id="E1")
    e2 = create(**{**JEAN, "emails": []}, source_system="erp", external_id="E2")
    s1 = create(**{**JEAN, "family_name": "Dupond"}, source_system="shop", external_id="S1")
    queued = client.post("/api/v1/dedupe/runs", headers=admin, json={"link_only": True})
    assert queued.status_code == 202, queued.text
    status_url = queued.json()["status_url"]
    assert client.get(status_url, headers=admin).json()["payload"]["link_only"] is True
    assert run_pending(engine) >= 1
    job = client.get(status_url, headers=admin).json()
    assert job["status"] == "done", job
    assert job["result"]["link_only"] is True and job["result"]["merges"] == 1
    with engine.connect() as conn:
        batch_pairs = {
            (int(a), int(b))
            for a, b in conn.exec_driver_sql(
                "SELECT person_l_id, person_r_id FROM duplicate_candidates WHERE origin = 'batch'"
            )
        }
    assert (min(e1["id"], e2["id"]), max(e1["id"], e2["id"])) not in batch_pairs
    merged = {
        p["id"]: client.get(f"{PERSONS}/{p['id']}", headers=admin).json()["merged_into_id"]
        for p in (e1, e2, s1)
    }
    assert merged[e1["id"]] is None and merged[e2["id"]] is None  # ERP records stay apart
    assert merged[s1["id"]] in (e1["id"], e2["id"])
    bad = client.post("/api/v1/dedupe/runs", headers=admin, json={"link_only": "sometimes"})
    assert bad.status_code == 422
