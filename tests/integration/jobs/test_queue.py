"""The durable job queue: outcome recording, retries with backoff, atomic claims, stale jobs."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.jobs.conftest import EchoPlugin

from closedloop.db.base import as_utc, utcnow
from closedloop.db.uow import unit_of_work
from closedloop.jobs import service
from closedloop.jobs.models import Job
from closedloop.jobs.worker import default_worker_id


def _enqueue(factory: sessionmaker[Session], **payload: object) -> int:
    with unit_of_work(factory) as s:
        return service.enqueue(s, "test.echo", dict(payload), max_attempts=3).id


def _job(factory: sessionmaker[Session], job_id: int) -> Job:
    with unit_of_work(factory) as s:
        return service.get_job(s, job_id)


def test_a_queued_job_runs_once_and_keeps_its_result(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    job_id = _enqueue(factory, text="hello")
    assert service.run_pending(engine) == 1
    job = _job(factory, job_id)
    assert (job.status, job.result, job.progress) == ("done", {"echo": "hello", "attempt": 1}, 1.0)
    assert job.finished_at is not None and job.locked_by is None
    assert service.run_pending(engine) == 0
    assert echo.calls == [(job_id, 1)]


def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    try:
        with unit_of_work(factory) as s:
            service.enqueue(s, "test.echo", {"text": "lost"})
            raise RuntimeError("the write failed")
    except RuntimeError:
        pass
    assert service.run_pending(engine) == 0
    assert echo.calls == []


def test_a_failing_job_is_retried_later_with_backoff_then_succeeds(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    job_id = _enqueue(factory, fail_times=2, text="x")
    assert service.run_pending(engine) == 1  # first attempt fails, the retry is not due yet
    job = _job(factory, job_id)
    assert job.status == "queued" and "unexpected error" in (job.error or "")
    delay = (as_utc(job.run_after) - utcnow()).total_seconds()  # type: ignore[arg-type]
    assert 20 < delay <= 30
    for _ in range(2):  # make the retry due, as time passing would
        with unit_of_work(factory) as s:
            s.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow()))
        service.run_pending(engine)
    job = _job(factory, job_id)
    assert (job.status, job.attempts, job.result) == ("done", 3, {"echo": "x", "attempt": 3})


def test_attempts_are_bounded_and_the_last_error_is_kept(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    job_id = _enqueue(factory, retry_in=0)
    service.run_pending(engine)
    job = _job(factory, job_id)
    assert (job.status, job.attempts) == ("failed", 3)
    assert "receiver busy (after 3 attempt(s))" in (job.error or "")


def test_a_domain_error_fails_at_once(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    job_id = _enqueue(factory, invalid=True)
    service.run_pending(engine)
    job = _job(factory, job_id)
    assert (job.status, job.attempts, job.error) == ("failed", 1, "The payload names no person.")


def test_jobs_not_yet_due_wait_and_unknown_kinds_stay_queued(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    with unit_of_work(factory) as s:
        later = service.enqueue(s, "test.echo", run_after=utcnow() + timedelta(hours=1)).id
        other = service.enqueue(s, "plugin.not.installed").id
    assert service.run_pending(engine) == 0
    assert _job(factory, later).status == "queued"
    assert _job(factory, other).status == "queued"


def test_concurrent_workers_claim_each_job_exactly_once(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    ids = [_enqueue(factory, text=str(i)) for i in range(24)]
    counts: list[int] = []

    def work(n: int) -> None:
        counts.append(service.run_pending(engine, worker_id=f"w{n}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 24
    assert sorted(job_id for job_id, _ in echo.calls) == ids
    with unit_of_work(factory) as s:
        assert set(s.scalars(select(Job.status).where(Job.id.in_(ids)))) == {"done"}


def test_a_job_whose_worker_died_is_requeued_then_failed_when_out_of_attempts(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    job_id = _enqueue(factory, text="again")
    with unit_of_work(factory) as s:
        s.execute(update(Job).where(Job.id == job_id).values(max_attempts=2))
    claimed = service.claim(engine, "doomed", ["test.echo"])
    assert claimed is not None and claimed.id == job_id
    assert service.requeue_stale(engine, stale_after=60) == 0  # heartbeat is fresh

    def age() -> None:
        with unit_of_work(factory) as s:
            old = utcnow() - timedelta(minutes=10)
            s.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=old))

    age()
    assert service.requeue_stale(engine, stale_after=60) == 1
    assert _job(factory, job_id).status == "queued"
    assert service.claim(engine, "doomed-again", ["test.echo"]) is not None
    age()
    service.requeue_stale(engine, stale_after=60)
    job = _job(factory, job_id)
    assert (job.status, job.error) == ("failed", "worker lost")


def test_cancel_and_rerun(engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin) -> None:
    job_id = _enqueue(factory, text="c")
    with unit_of_work(factory) as s:
        service.cancel(s, job_id)
    assert service.run_pending(engine) == 0
    with unit_of_work(factory) as s:
        service.requeue(s, job_id)
    assert service.run_pending(engine) == 1
    assert _job(factory, job_id).status == "done"


def test_a_job_held_by_a_live_process_of_this_machine_is_never_taken_back(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    # On SQLite a long job can hold the write lock so long that its heartbeat cannot be
    # written; what matters is whether its process still lives.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive_id, dead_id = _enqueue(factory, text="alive"), _enqueue(factory, text="dead")
    assert service.claim(engine, default_worker_id(), ["test.echo"]) is not None
    assert service.claim(engine, f"{socket.gethostname()}:{dead.pid}:1", ["test.echo"])
    with unit_of_work(factory) as s:
        old = utcnow() - timedelta(hours=2)
        s.execute(update(Job).values(heartbeat_at=old))
    assert service.requeue_stale(engine, stale_after=60) == 1
    assert _job(factory, alive_id).status == "running"
    assert _job(factory, dead_id).status == "queued"
