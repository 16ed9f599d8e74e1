"""Plugin hooks of the scoring domain: the worker job that runs a scoring run."""

from __future__ import annotations

from typing import Any

from closedloop.hookspecs import hookimpl
from closedloop.scoring.service import JOB_KIND, run_job


@hookimpl
def job_handlers() -> dict[str, Any]:
    """``scoring.run``: execute a score run (:func:`closedloop.scoring.service.run_job`)."""
    return {JOB_KIND: run_job}
