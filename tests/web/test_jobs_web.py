"""The background jobs page: who sees it, what it shows, cancel and rerun."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.hookspecs import hookimpl, pm
from closedloop.jobs import schedules, service


class Broken:
    @hookimpl
    def job_handlers(self) -> dict[str, Any]:
        def fail(ctx: service.JobContext) -> None:
            raise RuntimeError("the export disk is full")

        return {"test.broken": fail}


@pytest.fixture()
def broken() -> Iterator[None]:
    plugin = Broken()
    pm.register(plugin)
    yield
    pm.unregister(plugin)


def test_jobs_page_is_for_staff_who_may_read_jobs(
    client: TestClient, logged_in: Callable[..., TestClient]
) -> None:
    logged_in("agent")
    assert client.get("/jobs").status_code == 403
    assert 'href="/jobs"' not in client.get("/persons").text
    client.cookies.clear()
    logged_in("analyst")
    page = client.get("/jobs")
    assert page.status_code == 200 and "No job yet." in page.text
    assert 'href="/jobs"' in client.get("/persons").text


def test_a_failed_job_shows_its_error_and_an_admin_can_run_it_again(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    web: SimpleNamespace,
    engine: Engine,
    factory: sessionmaker[Session],
    broken: None,
) -> None:
    with unit_of_work(factory) as s:
        job_id = service.enqueue(s, "test.broken", max_attempts=1).id
        waiting = service.enqueue(s, "test.broken").id
        schedules.add_schedule(s, "nightly-broken", "test.broken", every="1d", at="02:00")
    service.run_pending(engine, kinds=["none.such"])  # nothing of that kind: nothing runs
    with unit_of_work(factory) as s:
        service.cancel(s, waiting)
    service.run_pending(engine)
    logged_in("analyst")
    page = client.get("/jobs?status=failed").text
    assert "RuntimeError: the export disk is full (after 1 attempt(s))" in page
    assert f"/jobs/{job_id}/retry" not in page  # analysts may look, not act
    assert "nightly-broken" in page
    client.cookies.clear()
    logged_in("admin")
    token = web.page_token(client, "/jobs")
    assert f'action="/jobs/{job_id}/retry"' in client.get("/jobs").text
    again = client.post(f"/jobs/{job_id}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "The job was queued again." in again.text
    assert 'http-equiv="refresh"' in again.text  # a queued job: the page keeps itself fresh
    with unit_of_work(factory) as s:
        assert service.get_job(s, job_id).status == "queued"
    no_csrf = client.post(f"/jobs/{job_id}/cancel", follow_redirects=False)
    assert no_csrf.status_code in (400, 403)
    cancelled = client.post(f"/jobs/{job_id}/cancel", data={"csrf_token": token})
    assert "The job was cancelled." in cancelled.text


def test_french_jobs_page(client: TestClient, logged_in: Callable[..., TestClient]) -> None:
    logged_in("admin", locale="fr")
    assert "Tâches de fond" in client.get("/jobs").text
