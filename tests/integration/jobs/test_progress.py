"""A job's progress writes never fail the job, nor make it wait, whoever holds the database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.hookspecs import hookimpl, pm
from closedloop.jobs import service
from closedloop.jobs.models import Job
from closedloop.scoring import service as scoring
from closedloop.scoring.schemas import ScoreParams
from closedloop.transactions.models import Order

HOLD_AT_MOST = 20.0  # seconds a blocker holds the lock before giving up on the handler


class LockingPlugin:
    """``test.locked`` jobs report progress while the database is held: by the job's own
    transaction (``{"own": true}``) or by another connection (a concurrent writer)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reported_while_held: bool | None = None

    def run(self, ctx: service.JobContext) -> dict[str, Any]:
        if ctx.payload.get("own"):
            with unit_of_work(ctx.factory) as session:
                # The job's own write: on SQLite it takes the only write lock, on PostgreSQL
                # the lock of the job's row, until this transaction commits.
                session.execute(update(Job).where(Job.id == ctx.job_id).values(message="own"))
                ctx.progress(0.5, "reported inside the job's own transaction")
                session.add(Person(given_name="Written by the job"))
            return {"ok": True}
        holding, reported = threading.Event(), threading.Event()
        blocker = threading.Thread(target=self._hold, args=(ctx.job_id, holding, reported))
        blocker.start()
        assert holding.wait(10)
        ctx.progress(0.5, "reported while another writer held the lock")
        reported.set()
        blocker.join()
        return {"ok": True}

    def _hold(self, job_id: int, holding: threading.Event, reported: threading.Event) -> None:
        """A concurrent writer: holds the write lock (and the job's row) until the handler has
        reported its progress, or for HOLD_AT_MOST seconds."""
        with self.engine.begin() as conn:
            conn.execute(update(Job).where(Job.id == job_id).values(message="held elsewhere"))
            holding.set()
            self.reported_while_held = reported.wait(HOLD_AT_MOST)

    @hookimpl
    def job_handlers(self) -> dict[str, Any]:
        return {"test.locked": self.run}


@pytest.fixture()
def locking(engine: Engine) -> Iterator[LockingPlugin]:
    plugin = LockingPlugin(engine)
    pm.register(plugin)
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


def _run(engine: Engine, factory: sessionmaker[Session], kind: str, **payload: Any) -> Job:
    with unit_of_work(factory) as s:
        job_id = service.enqueue(s, kind, payload, max_attempts=1).id
    assert service.run_pending(engine, kinds=[kind]) == 1
    with factory() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def test_progress_reported_while_another_writer_holds_the_lock_neither_waits_nor_fails(
    engine: Engine, factory: sessionmaker[Session], locking: LockingPlugin
) -> None:
    job = _run(engine, factory, "test.locked")
    # The handler went on at once: the blocker saw the report while it still held the lock.
    assert locking.reported_while_held is True
    assert (job.status, job.error, job.progress) == ("done", None, 1.0)
    assert job.message == "reported while another writer held the lock"


def test_progress_reported_inside_the_jobs_own_write_transaction_does_not_fail_it(
    engine: Engine, factory: sessionmaker[Session], locking: LockingPlugin
) -> None:
    job = _run(engine, factory, "test.locked", own=True)
    assert (job.status, job.error, job.result) == ("done", None, {"ok": True})
    assert job.message == "reported inside the job's own transaction"
    with factory() as s:
        assert s.scalar(select(Person.given_name)) == "Written by the job"


def test_scoring_with_lifecycle_update_completes_as_a_job(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    """The web's "Run scoring" with "Also update each person's lifecycle status": the run
    reports its lifecycle step while its transaction holds the write lock."""
    as_of = date(2026, 11, 22)
    with unit_of_work(factory) as s:
        for i in range(30):
            person = Person(given_name=f"Buyer {i}", lifecycle_status="prospect")
            s.add(person)
            s.flush()
            for n in range(i % 4 + 1):
                at = datetime(2026, 1, 10, tzinfo=UTC) + timedelta(days=70 * n + i)
                s.add(Order(person_id=person.id, ordered_at=at, total_amount=Decimal("25.00")))
        run, job = scoring.enqueue_run(s, ScoreParams(as_of=as_of, update_lifecycle=True))
        run_id, job_id = run.id, job.id
    service.run_pending(engine, kinds=[scoring.JOB_KIND])
    with factory() as s:
        finished = s.get(Job, job_id)
        assert finished is not None
        assert (finished.status, finished.error, finished.progress) == ("done", None, 1.0)
        assert finished.result is not None and finished.result["run_id"] == run_id
        statuses = set(s.scalars(select(Person.lifecycle_status)))
    assert "prospect" not in statuses  # every buyer's status was updated by the run
