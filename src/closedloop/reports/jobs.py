"""Background work of the reports: a scoring run followed by the reports it feeds.

The web button and the API start a scoring job with :func:`start_in_background`: the run
itself (:func:`closedloop.scoring.service.run_job`), then, when it is done, a fresh snapshot
of the demand report as of the same day, so that the report pages open at once even over
millions of orders.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, select

from closedloop.jobs.models import Job
from closedloop.reports import demand
from closedloop.scoring import service
from closedloop.scoring.models import ScoreRun

log = logging.getLogger(__name__)


def run_scoring_job(engine: Engine, job_id: int) -> None:
    """Run scoring job ``job_id``, then refresh the demand snapshot when the run is done."""
    service.run_job(engine, job_id)
    with engine.connect() as conn:
        result = conn.execute(select(Job.result).where(Job.id == job_id)).scalar_one()
        if not result or "run_id" not in result:
            return
        run_id = int(result["run_id"])
        status, as_of = conn.execute(
            select(ScoreRun.status, ScoreRun.as_of).where(ScoreRun.id == run_id)
        ).one()
    if status == "done":
        demand.refresh_snapshot(engine, as_of=as_of.date(), run_id=run_id)


def start_in_background(engine: Engine, job_id: int) -> threading.Thread:
    """Run :func:`run_scoring_job` in a daemon thread of this process."""

    def target() -> None:
        try:
            run_scoring_job(engine, job_id)
        except Exception:  # the run and the job record their own failure
            log.exception("Scoring job %s failed", job_id)

    thread = threading.Thread(target=target, name=f"scoring-job-{job_id}", daemon=True)
    thread.start()
    return thread


__all__ = ["run_scoring_job", "start_in_background"]
