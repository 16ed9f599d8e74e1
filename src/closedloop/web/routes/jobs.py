"""The background jobs page: what runs, what waits, what failed and why; recurring jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from closedloop.deps import DbSession
from closedloop.i18n import N_
from closedloop.jobs import schedules, service
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import JobStatus
from closedloop.web.rendering import flash, render
from closedloop.web.routes import page_router
from closedloop.web.security import requires

router = page_router()
Reader = Annotated[User, requires(Permission.JOBS_READ)]
Manager = Annotated[User, requires(Permission.JOBS_MANAGE)]
REFRESH_SECONDS = 3


@router.get("/jobs", response_class=Response)
def jobs_page(
    request: Request, db: DbSession, user: Reader, status: str = "", kind: str = ""
) -> Response:
    """The latest jobs (filter by status and kind) and the schedules; refreshes while a job
    is queued or running."""
    rows = service.list_jobs(db, status=status or None, kind=kind or None, limit=200)
    busy = any(job.status in ("queued", "running") for job in rows)
    context = {
        "active": "jobs",
        "jobs": rows,
        "schedules": schedules.list_schedules(db),
        "statuses": [s.value for s in JobStatus],
        "status": status,
        "kind": kind,
        "refresh_seconds": REFRESH_SECONDS if busy else None,
    }
    return render(request, "jobs/index.html", context)


@router.post("/jobs/{job_id:int}/cancel", response_class=Response)
def cancel_job(request: Request, job_id: int, db: DbSession, user: Manager) -> Response:
    """Cancel a queued job."""
    service.cancel(db, job_id)
    users_service.audit(db, user, "cancel", "job", job_id, channel="web")
    flash(request, N_("The job was cancelled."))
    return RedirectResponse("/jobs", status_code=303)


@router.post("/jobs/{job_id:int}/retry", response_class=Response)
def retry_job(request: Request, job_id: int, db: DbSession, user: Manager) -> Response:
    """Queue a failed or cancelled job again."""
    service.requeue(db, job_id)
    users_service.audit(db, user, "retry", "job", job_id, channel="web")
    flash(request, N_("The job was queued again."))
    return RedirectResponse("/jobs", status_code=303)
