"""``/api/v1/jobs``: background jobs (imports, scoring, dedupe, deliveries) and their
schedules — poll a job you started, cancel a queued one, rerun a failed one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict

from closedloop.api.auth import JOB_QUOTA, requires
from closedloop.api.problems import problem_responses
from closedloop.api.schemas import UtcDatetime
from closedloop.db.types import DbId
from closedloop.deps import DbSession
from closedloop.jobs import schedules, service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.users.service import audit

router = APIRouter(tags=["jobs"])

JobsReader = Annotated[User, Depends(requires(Permission.JOBS_READ))]
JobsManager = Annotated[User, Depends(requires(Permission.JOBS_MANAGE))]
JobId = Annotated[DbId, Path(description="The job's id.")]


class JobPublic(BaseModel):
    """A background job: what it does, where it is, what came out of it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    status: str
    progress: float
    message: str | None
    error: str | None
    attempts: int
    max_attempts: int
    payload: dict[str, Any]
    result: dict[str, Any] | None
    created_by: str | None
    created_at: UtcDatetime
    run_after: UtcDatetime | None
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None


class SchedulePublic(BaseModel):
    """A recurring job (times in UTC)."""

    model_config = ConfigDict(from_attributes=True)
    name: str
    kind: str
    payload: dict[str, Any]
    every_seconds: int
    next_run_at: UtcDatetime
    enabled: bool
    last_job_id: int | None


@router.get("/jobs", response_model=list[JobPublic], responses=problem_responses(401, 403))
def list_jobs(
    session: DbSession,
    user: JobsReader,
    status: Annotated[
        str | None, Query(description="queued, running, done, failed or cancelled.")
    ] = None,
    kind: Annotated[str | None, Query(max_length=64, description="e.g. scoring.run")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobPublic]:
    """The most recent jobs, newest first."""
    rows = service.list_jobs(session, status=status, kind=kind, limit=limit)
    return [JobPublic.model_validate(job) for job in rows]


@router.get(
    "/jobs/schedules", response_model=list[SchedulePublic], responses=problem_responses(401, 403)
)
def list_schedules(session: DbSession, user: JobsReader) -> list[SchedulePublic]:
    """Every recurring job with its next run (create them with `closedloop jobs schedule add`)."""
    return [SchedulePublic.model_validate(s) for s in schedules.list_schedules(session)]


@router.get("/jobs/{job_id}", response_model=JobPublic, responses=problem_responses(401, 403, 404))
def get_job(job_id: JobId, session: DbSession, user: JobsReader) -> JobPublic:
    """One job: poll it until `status` is `done` (see `result`) or `failed` (see `error`)."""
    return JobPublic.model_validate(service.get_job(session, job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobPublic,
    responses=problem_responses(401, 403, 404, 409),
)
def cancel_job(job_id: JobId, session: DbSession, user: JobsManager) -> JobPublic:
    """Cancel a queued job (409 when it is already running or finished)."""
    job = service.cancel(session, job_id)
    audit(session, user, "cancel", "job", job_id, channel="api")
    return JobPublic.model_validate(job)


@router.post(
    "/jobs/{job_id}/retry",
    response_model=JobPublic,
    responses=problem_responses(401, 403, 404, 409, 422, 429),
    dependencies=[JOB_QUOTA],
)
def retry_job(job_id: JobId, session: DbSession, user: JobsManager) -> JobPublic:
    """Queue a failed or cancelled job again with a fresh attempt budget."""
    job = service.requeue(session, job_id)
    audit(session, user, "retry", "job", job_id, channel="api")
    return JobPublic.model_validate(job)
