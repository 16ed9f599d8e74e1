"""Plugin hooks of the reports: the job that refreshes the demand snapshot after a run.

Loaded in every process, so the report code (pandas, statsmodels) is imported only when the
job runs.
"""

from __future__ import annotations

from typing import Any

from closedloop.hookspecs import hookimpl
from closedloop.jobs.service import JobContext
from closedloop.scoring.hooks import AFTER_RUN_KIND as REFRESH_KIND


def refresh_demand(ctx: JobContext) -> dict[str, Any] | None:
    """Run :func:`closedloop.reports.jobs.refresh_demand`."""
    from closedloop.reports import jobs

    return jobs.refresh_demand(ctx)


@hookimpl
def job_handlers() -> dict[str, Any]:
    """``reports.refresh_demand``: see :func:`closedloop.reports.jobs.refresh_demand`."""
    return {REFRESH_KIND: refresh_demand}
