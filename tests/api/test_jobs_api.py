"""``/api/v1/jobs``: poll, cancel and rerun background jobs."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.jobs import schedules, service


def test_poll_cancel_and_rerun_a_job(
    client: TestClient, factory: sessionmaker[Session], make_token: Callable[..., str]
) -> None:
    with unit_of_work(factory) as s:
        job_id = service.enqueue(s, "plugin.absent", {"n": 1}, created_by="api").id
        schedules.add_schedule(s, "weekly", "plugin.absent", every="1w")
    analyst = {"Authorization": f"Bearer {make_token('ana', 'analyst')}"}
    admin = {"Authorization": f"Bearer {make_token('adm', 'admin')}"}
    agent = {"Authorization": f"Bearer {make_token('agt', 'agent')}"}
    assert client.get("/api/v1/jobs", headers=agent).status_code == 403
    listed = client.get("/api/v1/jobs?status=queued", headers=analyst).json()
    assert [j["id"] for j in listed] == [job_id] and listed[0]["payload"] == {"n": 1}
    one = client.get(f"/api/v1/jobs/{job_id}", headers=analyst).json()
    assert one["status"] == "queued" and one["max_attempts"] == 3
    assert client.get("/api/v1/jobs/999999", headers=analyst).status_code == 404
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=analyst).status_code == 403
    assert (
        client.post(f"/api/v1/jobs/{job_id}/cancel", headers=admin).json()["status"] == "cancelled"
    )
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=admin)
    assert again.status_code == 409
    assert "only a queued job can be cancelled" in again.json()["detail"]
    assert client.post(f"/api/v1/jobs/{job_id}/retry", headers=admin).json()["status"] == "queued"
    sched = client.get("/api/v1/jobs/schedules", headers=analyst).json()
    assert sched[0]["name"] == "weekly" and sched[0]["every_seconds"] == 604800
