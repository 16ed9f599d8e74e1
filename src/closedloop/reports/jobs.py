"""Background work of the reports: refresh what they precompute after a scoring run.

Every finished ``scoring.run`` job queues a ``reports.refresh_demand`` job (the kind is named
by :data:`closedloop.scoring.service.AFTER_RUN_KIND`, so scoring need not import this layer);
its handler stores a fresh snapshot of the demand report as of the run's day, so that the
report pages open at once even over millions of orders.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from closedloop.errors import NotFound
from closedloop.i18n import N_
from closedloop.jobs.service import JobContext
from closedloop.reports import demand
from closedloop.scoring.models import ScoreRun
from closedloop.scoring.service import AFTER_RUN_KIND

#: ``jobs.kind`` of the refresh; payload ``{"run_id": …}``.
REFRESH_KIND = AFTER_RUN_KIND


def refresh_demand(ctx: JobContext) -> dict[str, Any]:
    """Handler of ``reports.refresh_demand``: snapshot the demand report of a finished run."""
    run_id = int(ctx.payload["run_id"])
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(ScoreRun.status, ScoreRun.as_of).where(ScoreRun.id == run_id)
        ).one_or_none()
    if row is None:
        raise NotFound(f"Scoring run {run_id} does not exist.")
    status, as_of = row
    if status != "done":
        return {"run_id": run_id, "skipped": f"the run is {status}"}
    ctx.progress(0.1, N_("refreshing the demand report"))
    demand.refresh_snapshot(ctx.engine, as_of=as_of.date(), run_id=run_id)
    return {"run_id": run_id, "as_of": as_of.date().isoformat()}


__all__ = ["REFRESH_KIND", "refresh_demand"]
