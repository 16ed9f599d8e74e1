"""Plugin hooks of the scoring domain: the worker job that runs a scoring run.

Loaded in every process, so the models (numpy, scipy, ibis) are imported only when the job
runs.
"""

from __future__ import annotations

from typing import Any

from closedloop.hookspecs import hookimpl
from closedloop.jobs.guards import one_at_a_time
from closedloop.jobs.service import JobContext

JOB_KIND = one_at_a_time("scoring.run")
#: Queued by a finished run for the reports that read it (a higher layer names the handler).
AFTER_RUN_KIND = "reports.refresh_demand"


def run_job(ctx: JobContext) -> dict[str, Any] | None:
    """Run :func:`closedloop.scoring.service.run_job`."""
    from closedloop.scoring import service

    return service.run_job(ctx)


@hookimpl
def job_handlers() -> dict[str, Any]:
    """``scoring.run``: execute a score run (:func:`closedloop.scoring.service.run_job`)."""
    return {JOB_KIND: run_job}
