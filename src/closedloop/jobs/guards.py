"""Heavy job kinds run one at a time.

A kind declares itself with :func:`one_at_a_time` where it is defined (``RUN_KIND =
one_at_a_time("dedupe.run")``). While a job of such a kind is queued or running, queueing
another is refused (:class:`~closedloop.errors.Conflict`, a 409 in the API), naming the job
to wait for. The store enforces it too (a partial unique index on ``jobs``), so two requests
racing each other cannot both queue one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from closedloop.errors import Conflict
from closedloop.jobs.models import Job
from closedloop.vocab import JobStatus

_ONE_AT_A_TIME: set[str] = set()
ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def one_at_a_time(kind: str) -> str:
    """Declare ``kind`` heavy: one job of it queued or running at a time. Returns ``kind``."""
    _ONE_AT_A_TIME.add(kind)
    return kind


def is_one_at_a_time(kind: str) -> bool:
    """Whether ``kind`` was declared with :func:`one_at_a_time`."""
    return kind in _ONE_AT_A_TIME


def heavy_kinds() -> list[str]:
    """Every kind declared one at a time so far (modules declare theirs when imported)."""
    return sorted(_ONE_AT_A_TIME)


def active_job(session: Session, kind: str, *, other_than: int | None = None) -> Job | None:
    """The queued or running job of ``kind``, if any."""
    stmt = select(Job).where(Job.kind == kind, Job.status.in_(ACTIVE))
    if other_than is not None:
        stmt = stmt.where(Job.id != other_than)
    return session.scalars(stmt.order_by(Job.id).limit(1)).first()


def _refusal(job: Job | None, kind: str) -> Conflict:
    if job is None:
        return Conflict(f"Another {kind} job was queued at the same time; try again shortly.")
    return Conflict(
        f"A {kind} job is already {job.status} (job {job.id}); wait until it has finished "
        "or cancel it."
    )


def check_free(session: Session, kind: str, *, other_than: int | None = None) -> None:
    """Refuse (Conflict) when ``kind`` is one at a time and a job of it is queued or running."""
    if is_one_at_a_time(kind):
        with session.no_autoflush:
            found = active_job(session, kind, other_than=other_than)
        if found is not None:
            raise _refusal(found, kind)


def add_guarded(session: Session, job: Job, *, other_than: int | None = None) -> None:
    """Flush ``job`` (new, or queued again): refused when its kind is one at a time and
    another job of it is queued or running."""
    job.exclusive = is_one_at_a_time(job.kind)
    if not job.exclusive:
        session.add(job)
        session.flush()
        return
    check_free(session, job.kind, other_than=other_than)
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError as exc:  # a concurrent request queued one first
        with session.no_autoflush:
            raise _refusal(active_job(session, job.kind), job.kind) from exc
