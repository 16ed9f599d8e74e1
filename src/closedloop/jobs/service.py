"""The durable job queue: enqueue work, claim it atomically, run it, record the outcome.

A job is a row of ``jobs``. Enqueueing inside a writer's transaction makes it an outbox: the
job exists exactly when the write committed. Workers (``closedloop worker``, or the thread
that ``closedloop serve`` embeds) claim due jobs with a conditional UPDATE, so two workers
never run the same job, on SQLite and PostgreSQL alike. Each domain names its handlers
through the ``job_handlers`` hook.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.base import utcnow
from closedloop.db.uow import session_factory, unit_of_work
from closedloop.errors import Conflict, DomainError, NotFound, failure_message
from closedloop.hookspecs import pm
from closedloop.i18n import N_, Said
from closedloop.jobs import guards
from closedloop.jobs.models import Job
from closedloop.jobs.progress import Reporter
from closedloop.vocab import JobStatus

log = logging.getLogger(__name__)

QUEUED, RUNNING = JobStatus.QUEUED.value, JobStatus.RUNNING.value
DONE, FAILED, CANCELLED = JobStatus.DONE.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value


class Retry(Exception):
    """Raised by a handler to run the job again after ``delay_seconds`` (counts an attempt)."""

    def __init__(self, reason: str, delay_seconds: float) -> None:
        super().__init__(reason)
        self.reason, self.delay_seconds = reason, max(0.0, delay_seconds)


@dataclass
class JobContext:
    """What a handler gets: the job's identity and payload, the store, a progress reporter."""

    engine: Engine
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    factory: sessionmaker[Session] = field(repr=False)
    #: writes progress and heartbeat apart from the job's work (:mod:`closedloop.jobs.progress`)
    reporter: Reporter = field(repr=False)
    #: clear the payload once the job is done (:meth:`forget_payload`)
    forget: bool = False

    def forget_payload(self) -> None:
        """Ask for the payload to be cleared when the job ends done: it holds personal data
        (a visitor's sign-up, an email to a person) that has no use once the work is done."""
        self.forget = True

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0–1) and an optional message. Returns at once and never fails:
        the figure is written apart, even while the job holds the database's write lock."""
        self.reporter.report(fraction, message)


Handler = Callable[[JobContext], "dict[str, Any] | None"]


def handlers() -> dict[str, Handler]:
    """Every registered handler by job kind (from the ``job_handlers`` hook)."""
    found: dict[str, Handler] = {}
    for mapping in pm.hook.job_handlers():
        found.update(mapping or {})
    return found


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_after: datetime | None = None,
    created_by: str | None = None,
    max_attempts: int = 3,
) -> Job:
    """Queue a job of ``kind``; it runs once the caller's transaction commits (and not before
    ``run_after``). Returns the flushed row, so its ``id`` can be shown or polled.
    A kind declared one at a time is refused (Conflict) while one of it is queued or running
    (:mod:`closedloop.jobs.guards`)."""
    job = Job(
        kind=kind,
        status=QUEUED,
        payload=dict(payload or {}),
        run_after=run_after,
        created_by=created_by,
        max_attempts=max(1, max_attempts),
        attempts=0,
        progress=0.0,
    )
    guards.add_guarded(session, job)
    return job


def get_job(session: Session, job_id: int) -> Job:
    """The job ``job_id``, or NotFound."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"Job {job_id} does not exist.")
    return job


def list_jobs(
    session: Session, *, status: str | None = None, kind: str | None = None, limit: int = 100
) -> list[Job]:
    """The most recent jobs, newest first, optionally of one status and kind."""
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Job.status == status)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    return list(session.scalars(stmt))


def cancel(session: Session, job_id: int) -> Job:
    """Cancel a queued job. A running job cannot be cancelled (Conflict)."""
    job = get_job(session, job_id)
    if job.status != QUEUED:
        raise Conflict(f"Job {job_id} is {job.status}; only a queued job can be cancelled.")
    job.status, job.finished_at = CANCELLED, utcnow()
    session.flush()
    return job


def requeue(session: Session, job_id: int) -> Job:
    """Queue a failed or cancelled job again, with a fresh attempt budget."""
    job = get_job(session, job_id)
    if job.status not in (FAILED, CANCELLED):
        raise Conflict(f"Job {job_id} is {job.status}; only a failed or cancelled job can rerun.")
    guards.check_free(session, job.kind, other_than=job.id)
    job.status, job.attempts, job.run_after = QUEUED, 0, None
    job.error = job.finished_at = job.locked_by = None
    guards.add_guarded(session, job, other_than=job.id)
    return job


def claim(engine: Engine, worker_id: str, kinds: Iterable[str]) -> Job | None:
    """Claim the oldest due job of one of ``kinds`` for ``worker_id``; None when none is due.

    The claim is ``UPDATE … WHERE id = ? AND status = 'queued'``: of two workers racing for
    the same row, exactly one updates it.
    """
    kinds = list(kinds)
    if not kinds:
        return None
    factory = session_factory(engine)
    now = utcnow()
    due = (
        select(Job.id)
        .where(Job.status == QUEUED, Job.kind.in_(kinds))
        .where(or_(Job.run_after.is_(None), Job.run_after <= now))
        .order_by(Job.id)
        .limit(20)
    )
    with unit_of_work(factory) as session:
        candidates = list(session.scalars(due))
    for job_id in candidates:
        with unit_of_work(factory) as session:
            claimed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == QUEUED)
                .values(
                    status=RUNNING,
                    locked_by=worker_id[:100],
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                    attempts=Job.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                job = session.get(Job, job_id)
                assert job is not None
                session.expunge(job)
                return job
    return None


def backoff_seconds(attempt: int) -> float:
    """Delay before retry number ``attempt`` of a failed job: 30 s, 2 min, 8 min… up to 1 h."""
    return float(min(3600, 30 * 4 ** max(0, attempt - 1)))


def execute(engine: Engine, job: Job, registry: dict[str, Handler] | None = None) -> str:
    """Run a claimed job's handler and record the outcome; returns the job's new status.

    A reporter thread keeps ``heartbeat_at`` fresh while the handler runs, so a job whose
    worker died can be told apart from a long one (:func:`requeue_stale`), and writes the
    handler's progress; the last figure it could not write goes with the outcome.
    """
    registry = registry if registry is not None else handlers()
    factory = session_factory(engine)
    reporter = Reporter(factory, job.id).start()
    ctx = JobContext(
        engine=engine,
        job_id=job.id,
        kind=job.kind,
        payload=dict(job.payload or {}),
        attempts=job.attempts,
        factory=factory,
        reporter=reporter,
    )
    values: dict[str, Any]
    try:
        result = registry[job.kind](ctx)
        values = {"status": DONE, "result": result, "progress": 1.0, "error": None}
        if ctx.forget:
            values["payload"] = {}
    except Retry as retry:
        values = _again(job, retry.reason, retry.delay_seconds)
    except DomainError as exc:
        values = {"status": FAILED, "error": exc.detail}
    except Exception as exc:
        # The traceback and the exception's text (SQL, parameters) go to the server log only;
        # the job keeps what failed and what to do (it is shown on pages and by the API).
        log.exception("Job %s (%s) failed", job.id, job.kind)
        values = _again(job, failure_message(exc), backoff_seconds(job.attempts))
    finally:
        last = reporter.stop()
    if last is not None:  # the latest message stays; the outcome's own values win
        values = {**last.values(), **values}
    if values["status"] in (DONE, FAILED):
        values["finished_at"] = utcnow()
    values["error"] = (values.get("error") or None) and str(values["error"])[:4000]
    with unit_of_work(factory) as session:
        session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(locked_by=None, **values)
            .execution_options(synchronize_session=False)
        )
    return str(values["status"])


#: Why a job failed for good, with its attempts (a page writes it in the reader's language).
GAVE_UP = Said(N_("%(reason)s (after %(attempts)s attempt(s))"))


def _again(job: Job, reason: str, delay: float) -> dict[str, Any]:
    """Queue ``job`` again after ``delay`` unless its attempts are spent."""
    if job.attempts >= job.max_attempts:
        return {"status": FAILED, "error": GAVE_UP(reason=reason, attempts=job.attempts)}
    return {"status": QUEUED, "error": reason, "run_after": utcnow() + timedelta(seconds=delay)}


def holder_alive(locked_by: str | None) -> bool:
    """True when ``locked_by`` (``host:pid:…``) names a live process on this machine.

    On SQLite a long job can hold the only write lock for many minutes, so its own heartbeat
    cannot be written: a live holder on this host is never taken for a dead one."""
    host, _, rest = (locked_by or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def requeue_stale(engine: Engine, *, stale_after: float = 300.0) -> int:
    """Give back running jobs whose worker stopped beating (killed process, lost machine):
    queued again while attempts remain, failed otherwise. Returns how many were touched.

    A job held by a live process of this machine is left alone, however old its heartbeat.
    """
    cutoff = utcnow() - timedelta(seconds=stale_after)
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        stale = session.execute(
            select(Job.id, Job.locked_by, Job.attempts, Job.max_attempts).where(
                Job.status == RUNNING, Job.heartbeat_at < cutoff
            )
        ).all()
    touched = 0
    for job_id, holder, attempts, max_attempts in stale:
        if holder_alive(holder):
            continue
        if attempts < max_attempts:
            values: dict[str, Any] = {"status": QUEUED, "run_after": None}
            values["error"] = "worker lost; requeued"
        else:
            values = {"status": FAILED, "finished_at": utcnow(), "error": "worker lost"}
        with unit_of_work(factory) as session:
            done = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == RUNNING, Job.heartbeat_at < cutoff)
                .values(locked_by=None, **values)
                .execution_options(synchronize_session=False)
            )
            touched += int(done.rowcount)  # type: ignore[attr-defined]
    return touched


def run_pending(
    engine: Engine,
    *,
    kinds: Iterable[str] | None = None,
    worker_id: str = "inline",
    limit: int = 1000,
) -> int:
    """Run every due job (of ``kinds``, default all with a handler) in this thread until none
    is due; jobs queued by handlers run too when due. Returns how many ran. Used by tests and
    by ``closedloop worker --once``."""
    registry = handlers()
    wanted = [k for k in (kinds or registry) if k in registry]
    ran = 0
    while ran < limit:
        job = claim(engine, worker_id, wanted)
        if job is None:
            break
        execute(engine, job, registry)
        ran += 1
    return ran
