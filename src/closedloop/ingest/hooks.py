"""Plugin hooks of the ingest domain: the worker job that runs web and API imports.

Loaded in every process, so the import engine (readers, validators) is imported only when
the job runs.
"""

from __future__ import annotations

from typing import Any

from closedloop.hookspecs import hookimpl
from closedloop.ingest.service.jobkind import KIND
from closedloop.jobs.service import JobContext


def run_job(ctx: JobContext) -> dict[str, Any] | None:
    """Run :func:`closedloop.ingest.service.background.run_job`."""
    from closedloop.ingest.service import background

    return background.run_job(ctx)


@hookimpl
def job_handlers() -> dict[str, Any]:
    """``ingest.run``: import an uploaded file (:mod:`closedloop.ingest.service.background`)."""
    return {KIND: run_job}
