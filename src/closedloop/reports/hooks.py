"""Plugin hooks of the reports: the job that refreshes the demand snapshot after a run."""

from __future__ import annotations

from typing import Any

from closedloop.hookspecs import hookimpl
from closedloop.reports.jobs import REFRESH_KIND, refresh_demand


@hookimpl
def job_handlers() -> dict[str, Any]:
    """``reports.refresh_demand``: see :func:`closedloop.reports.jobs.refresh_demand`."""
    return {REFRESH_KIND: refresh_demand}
