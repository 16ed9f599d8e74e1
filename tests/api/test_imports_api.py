"""``/api/v1/imports``: upload (202 and a job to poll), the worker imports, read a batch and
its rejects, roll it back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from closedloop.ingest.service import uploads
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending

IMPORTS = "/api/v1/imports"
CSV = (
    "external_id;Prénom;Nom;Courriel;Code postal;Ville;Pays\n"
    "A1;jean;DUPONT;jean@dupont.fr;75011;paris;France\n"
    "A2;Ana;Pop;ana@gmial.com;010011;București;România\n"
)


def _upload(
    client: TestClient, headers: dict[str, str], content: str = CSV, **data: object
) -> object:
    form = {"kind": "persons", "source": "shop", **data}
    files = {"file": ("clients.csv", content.encode(), "text/csv")}
    return client.post(IMPORTS, data=form, files=files, headers=headers)


def _imported(
    client: TestClient, headers: dict[str, str], engine: Engine, response: Any
) -> dict[str, Any]:
    """Run the queued job as a worker would, then poll the job's Location until done."""
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status"] == "queued" and queued["summary"] is None
    location = response.headers["location"]
    assert location == f"{IMPORTS}/jobs/{queued['job_id']}"
    assert run_pending(engine, kinds=["ingest.run"]) == 1
    polled = client.get(location, headers=headers)
    assert polled.status_code == 200, polled.text
    body: dict[str, Any] = polled.json()
    assert body["status"] == "done" and body["progress"] == 1.0
    return body


def test_import_read_rejects_and_rollback(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    job = _imported(client, admin, engine, _upload(client, admin))
    body = job["summary"]
    assert body["counts"]["new"] == 2 and body["counts"]["rejected"] == 0
    assert body["counts"]["kept_with_warnings"] == 1
    assert body["value_warnings"][0]["field"] == "email"
    batch = body["batch_id"]
    assert job["batch_id"] == batch and job["counts"]["new"] == 2
    again = _imported(client, admin, engine, _upload(client, admin))["summary"]
    assert again["counts"]["unchanged"] == 2
    got = client.get(f"{IMPORTS}/{batch}", headers=admin).json()
    assert got["status"] == "done" and got["rejects_total"] == 0
    assert got["value_warnings_total"] == 1
    csv = client.get(f"{IMPORTS}/{batch}/warnings.csv", headers=admin)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "gmial" in csv.content.decode("utf-8-sig")
    assert [b["id"] for b in client.get(IMPORTS, headers=admin).json()][-1] == batch
    rolled = client.post(f"{IMPORTS}/{batch}/rollback", headers=admin)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["removed"] >= 1
    refused = client.post(f"{IMPORTS}/{batch}/rollback", headers=admin)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"


def test_unmapped_columns_are_a_422_listing_them(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    content = "external_id,family_name,Kids\nK1,A,2\n"
    response = _upload(client, admin, content)
    assert response.status_code == 422  # type: ignore[attr-defined]
    problem = response.json()  # type: ignore[attr-defined]
    assert problem["errors"][0]["field"] == "Kids"
    assert run_pending(engine, kinds=["ingest.run"]) == 0  # nothing was queued
    ok = _upload(client, admin, content, as_attribute=["Kids:number"], dry_run="true")
    job = _imported(client, admin, engine, ok)
    assert job["dry_run"] is True
    assert job["summary"]["status"] == "dry_run" and job["summary"]["counts"]["new"] == 1
    people = client.get("/api/v1/persons", headers=admin).json()
    assert not any(p.get("family_name") == "A" for p in people.get("items", people))


def test_a_job_whose_upload_is_gone_fails_and_says_why(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    response = _upload(client, admin)
    assert response.status_code == 202
    with Session(engine) as session:  # the upload expires before a worker takes it
        job_row = session.get(Job, response.json()["job_id"])
        assert job_row is not None
        uploads.remove(job_row.payload["token"])
    assert run_pending(engine, kinds=["ingest.run"]) == 1
    job = client.get(response.headers["location"], headers=admin).json()
    assert job["status"] == "failed" and "uploaded file is gone" in job["error"]
    assert job["batch_id"] is None and job["summary"] is None
    assert client.get(f"{IMPORTS}/jobs/999999", headers=admin).status_code == 404


def test_roles_and_missing_batches(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    analyst = auth("analyst")
    assert _upload(client, analyst).status_code == 403  # type: ignore[attr-defined]
    assert client.get(f"{IMPORTS}/999", headers=analyst).status_code == 404
    assert client.post(IMPORTS).status_code == 401
