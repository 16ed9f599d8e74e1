"""How long finished jobs are kept.

A job's payload may hold personal data: a visitor's sign-up, an email with its recipient and
signed links. Handlers clear it once their work is done
(:meth:`~closedloop.jobs.service.JobContext.forget_payload`), but a failed or cancelled job
keeps its payload so that it can be run again. Every worker therefore deletes the jobs that
ended more than ``job_retention_days`` ago (30 by default; 0 keeps them), once an hour, and
``closedloop jobs purge`` does it on demand. Queued and running jobs are never touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlalchemy.orm import Session

from closedloop.db.base import utcnow
from closedloop.jobs.models import Job
from closedloop.vocab import JobStatus

#: the statuses of a job that has ended
ENDED = (JobStatus.DONE.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
#: how often a worker purges
PURGE_EVERY_SECONDS = 3600.0


def purge_ended(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete the jobs that ended (done, failed, cancelled) more than ``older_than`` ago
    (a cancelled job, which has no end time, by its creation); returns how many."""
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    cutoff = (now or utcnow()) - older_than
    ended_at = func.coalesce(Job.finished_at, Job.created_at)
    result = session.execute(
        delete(Job)
        .where(Job.status.in_(ENDED), ended_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
