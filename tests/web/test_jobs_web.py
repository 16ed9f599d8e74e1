"""The background jobs page: who sees it, what it shows, cancel and rerun."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.dedupe.said import INDEXED
from closedloop.hookspecs import hookimpl, pm
from closedloop.jobs import schedules, service


class Broken:
    @hookimpl
    def job_handlers(self) -> dict[str, Any]:
        def fail(ctx: service.JobContext) -> None:
            raise RuntimeError("the export disk is full")

        def fail_in_sql(ctx: service.JobContext) -> None:
            # A real constraint failure of the store: its message holds the SQL.
            with ctx.factory() as session:
                session.execute(text("INSERT INTO jobs (id, kind) SELECT id, kind FROM jobs"))

        def counted(ctx: service.JobContext) -> None:
            ctx.progress(1.0, INDEXED(done=1200, total=5000))

        return {"test.broken": fail, "test.broken_sql": fail_in_sql, "test.counted": counted}


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
    # What failed and what to do; the exception's own text stays in the server log.
    assert "An unexpected error stopped it." in page and "server log" in page
    assert "the export disk is full" not in page and "RuntimeError" not in page
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


def test_french_jobs_page(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    engine: Engine,
    factory: sessionmaker[Session],
    make_token: Callable[..., str],
    broken: None,
) -> None:
    """Why a job failed and what it did are written in the reader's language, numbers in its
    format; the API keeps the English text."""
    with unit_of_work(factory) as s:
        failed = service.enqueue(s, "test.broken", max_attempts=1).id
        counted = service.enqueue(s, "test.counted").id
    service.run_pending(engine)
    logged_in("admin", locale="fr")
    page = " ".join(client.get("/jobs").text.replace("\u202f", " ").replace("\xa0", " ").split())
    assert "Tâches de fond" in page
    assert (
        "Une erreur inattendue l'a arrêté." in page
        or "Une erreur inattendue l&#39;a arrêté." in page
    )
    assert "An unexpected error stopped it." not in page
    assert "1 200 personnes sur 5 000" in page and "1,200 of 5,000 persons" not in page
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {make_token()}"}
    assert client.get(f"/api/v1/jobs/{counted}", headers=bearer).json()["message"] == (
        "1,200 of 5,000 persons"
    )
    assert (
        client.get(f"/api/v1/jobs/{failed}", headers=bearer)
        .json()["error"]
        .startswith("An unexpected error stopped it.")
    )


def test_a_job_failing_in_the_database_shows_no_sql_on_the_page_nor_in_the_api(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    make_token: Callable[..., str],
    engine: Engine,
    factory: sessionmaker[Session],
    broken: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with unit_of_work(factory) as s:
        job_id = service.enqueue(s, "test.broken_sql", max_attempts=1).id
    with caplog.at_level("ERROR"):
        service.run_pending(engine)
    assert "INSERT INTO jobs" in caplog.text  # the details are in the server log
    logged_in("admin")
    page = client.get("/jobs?status=failed").text
    assert "The database refused a change" in page and "server log" in page
    for internal in ("INSERT", "SELECT", "IntegrityError", "constraint", "Traceback"):
        assert internal not in page
    client.cookies.clear()
    api = client.get(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {make_token()}"})
    assert api.status_code == 200, api.text
    assert api.json()["status"] == "failed"
    assert api.json()["error"].startswith("The database refused a change")
    assert "INSERT" not in api.text and "IntegrityError" not in api.text
