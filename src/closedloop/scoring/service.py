"""The scoring run (M8): features → RFM → value models → CLV, tiers, stages → stored history.

A run is a long job, so it owns its units of work rather than taking the caller's session:
:func:`create_run` records the run (``queued``) in the caller's session; :func:`execute_run`
then reads the orders through Ibis on the store's own engine, fits and applies the models in
memory, and writes every person's scores and the run's summary in one short transaction at
the end (a failed run stores no scores and says why in ``error``). :func:`run_scoring` does
both; :func:`enqueue_run` records a run and queues its ``scoring.run`` job, which
:func:`run_job` executes in a worker (the web button, the API and schedules use it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from closedloop.db.base import as_utc, utcnow
from closedloop.db.uow import session_factory, unit_of_work
from closedloop.errors import Conflict, DomainError, NotFound, failure_message
from closedloop.i18n import N_
from closedloop.jobs.models import Job
from closedloop.jobs.service import JobContext, enqueue
from closedloop.scoring.compute import Computation, compute_scores
from closedloop.scoring.hooks import AFTER_RUN_KIND, JOB_KIND
from closedloop.scoring.models import CurrencyRate, ScoreRun
from closedloop.scoring.schemas import ScoreParams
from closedloop.scoring.store import store_scores, update_lifecycle
from closedloop.settings import get_settings

log = logging.getLogger(__name__)

#: A queued or running run older than this is taken as interrupted (its process died).
STALE_AFTER = timedelta(hours=2)
ACTIVE_STATUSES = ("queued", "running")

#: Called with a step label and the fraction of the run done (0–1).
Progress = Callable[[str, float], None]


def _epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def create_run(session: Session, params: ScoreParams, *, created_by: str | None = None) -> ScoreRun:
    """Record a new run (``queued``) with its resolved parameters; the caller commits.

    Refused (409) while another run is queued or running; a run left over by a process that
    died more than two hours ago is marked failed instead.
    """
    now = utcnow()
    for other in session.scalars(select(ScoreRun).where(ScoreRun.status.in_(ACTIVE_STATUSES))):
        if now - as_utc(other.started_at) > STALE_AFTER:
            other.status = "failed"
            other.error = "interrupted: the process running it stopped"
            other.finished_at = now
        else:
            raise Conflict(
                f"Scoring run {other.id} is already {other.status}; wait until it has finished."
            )
    as_of = params.resolved_as_of()
    resolved = params.model_copy(
        update={
            "as_of": as_of,
            "base_currency": params.base_currency or get_settings().default_currency.upper(),
        }
    )
    run = ScoreRun(
        status="queued",
        as_of=datetime.combine(as_of, dtime(), UTC),
        params=resolved.model_dump(mode="json"),
        created_by=created_by,
        progress=0.0,
        message=N_("queued"),
    )
    session.add(run)
    session.flush()
    return run


def enqueue_run(
    session: Session, params: ScoreParams, *, created_by: str | None = None
) -> tuple[ScoreRun, Job]:
    """Record a run and queue the ``scoring.run`` job that executes it (a worker runs it once
    the caller's transaction commits); returns both."""
    run = create_run(session, params, created_by=created_by)
    job = enqueue(session, JOB_KIND, {"run_id": run.id}, created_by=created_by, max_attempts=1)
    return run, job


def rates_to(session: Session, base: str) -> dict[str, float]:
    """Conversion rates into ``base`` from the ``currency_rates`` table (``base`` itself: 1)."""
    rows = session.scalars(select(CurrencyRate).where(CurrencyRate.base_currency == base))
    rates = {row.currency: float(row.rate) for row in rows}
    rates[base] = 1.0
    return rates


def set_rate(session: Session, currency: str, rate: float, *, base: str | None = None) -> None:
    """Store how many units of the base currency one unit of ``currency`` is worth."""
    base = (base or get_settings().default_currency).upper()
    currency = currency.upper()
    if not (len(currency) == 3 and currency.isalpha()):
        raise DomainError(f"{currency!r} is not a three-letter currency code.")
    if not (rate > 0 and rate < 1e9):
        raise DomainError(f"The rate of {currency} must be a positive number, got {rate}.")
    row = session.get(CurrencyRate, (base, currency))
    if row is None:
        session.add(CurrencyRate(base_currency=base, currency=currency, rate=rate))
    else:
        row.rate = rate  # type: ignore[assignment]
    session.flush()


def _mark(engine: Engine, run_id: int, **fields: Any) -> None:
    with unit_of_work(session_factory(engine)) as session:
        session.execute(update(ScoreRun).where(ScoreRun.id == run_id).values(**fields))


def execute_run(engine: Engine, run_id: int, progress: Progress | None = None) -> ScoreRun:
    """Compute and store the scores of a queued run; returns the finished run.

    On any error the run is marked ``failed`` with the reason and the error is raised again;
    no score of a failed run is stored.
    """
    factory = session_factory(engine)
    last_saved = [0.0]

    def report(step: str, fraction: float) -> None:
        if progress is not None:
            progress(step, fraction)
        now = time.monotonic()
        if now - last_saved[0] >= 1.0 or fraction >= 1.0:
            last_saved[0] = now
            _mark(engine, run_id, progress=round(fraction, 3), message=step)

    with unit_of_work(factory) as session:
        run = session.get(ScoreRun, run_id)
        if run is None:
            raise NotFound(f"Scoring run {run_id} does not exist.")
        if run.status not in ACTIVE_STATUSES:
            raise Conflict(f"Scoring run {run_id} is {run.status}; it cannot be run again.")
        params = ScoreParams.model_validate(run.params)
        base = params.base_currency or get_settings().default_currency
        rates = rates_to(session, base)
        run.status = "running"
        run.message = N_("starting")
    try:
        computation = compute_scores(
            engine,
            params,
            as_of_day=_epoch_day(params.resolved_as_of()),
            base_currency=base,
            rates=rates,
            report=report,
        )
        report(N_("storing scores"), 0.85)
        with unit_of_work(factory) as session:
            _store(session, run_id, params, computation, progress)
    except BaseException as exc:
        detail = failure_message(exc)
        if not isinstance(exc, DomainError):
            log.exception("Scoring run %s failed", run_id)
        _mark(
            engine,
            run_id,
            status="failed",
            error=detail[:4000],
            message=N_("failed"),
            finished_at=utcnow(),
        )
        raise
    if progress is not None:
        progress(N_("done"), 1.0)
    with factory() as session:
        finished = session.get(ScoreRun, run_id)
        assert finished is not None
        return finished


def _store(
    session: Session,
    run_id: int,
    params: ScoreParams,
    computation: Computation,
    progress: Progress | None,
) -> None:
    started = time.perf_counter()
    stored = store_scores(session, run_id, computation)
    computation.timings["store"] = round(time.perf_counter() - started, 3)
    summary = dict(computation.summary)
    summary["rows_stored"] = stored
    if params.update_lifecycle:
        # Only the caller's reporter hears of this step: this transaction holds SQLite's only
        # write lock, so a write of the run's row from another one would wait for it and fail.
        if progress is not None:
            progress(N_("updating lifecycle status"), 0.95)
        started = time.perf_counter()
        summary["lifecycle_updated"] = update_lifecycle(session, run_id)
        computation.timings["lifecycle"] = round(time.perf_counter() - started, 3)
    summary["seconds"] = computation.timings
    session.execute(
        update(ScoreRun)
        .where(ScoreRun.id == run_id)
        .values(
            status="done",
            models=computation.models,
            summary=summary,
            progress=1.0,
            message=N_("done"),
            finished_at=utcnow(),
        )
    )


def run_scoring(
    engine: Engine,
    params: ScoreParams,
    *,
    created_by: str | None = None,
    progress: Progress | None = None,
) -> ScoreRun:
    """Create a run and execute it now; returns the finished run (raises when it fails)."""
    with unit_of_work(session_factory(engine)) as session:
        run_id = create_run(session, params, created_by=created_by).id
    return execute_run(engine, run_id, progress)


def run_job(ctx: JobContext) -> dict[str, Any]:
    """Handler of the ``scoring.run`` job (run by ``closedloop worker`` or the worker thread of
    ``closedloop serve``): execute a score run, report its progress on the job, then queue
    the refresh of the reports that read it (:data:`AFTER_RUN_KIND`).

    The payload names a queued run (``{"run_id": …}``, see :func:`enqueue_run`) or, for a
    scheduled job, the parameters of a run to create when it starts (``{"params": {…}}``;
    no ``as_of`` means the day it runs). A run that fails fails the job at once with the
    run's reason (a failed run cannot be run again; the next schedule tick makes a new one).
    """
    payload = ctx.payload
    if "run_id" in payload:
        run_id = int(payload["run_id"])
    else:
        try:
            params = ScoreParams.model_validate(payload.get("params") or {})
        except ValueError as exc:
            raise DomainError(f"The job's scoring parameters are invalid: {exc}") from exc
        with unit_of_work(ctx.factory) as session:
            run_id = create_run(session, params, created_by=f"job:{ctx.job_id}").id

    def progress(step: str, fraction: float) -> None:
        ctx.progress(fraction, step)

    try:
        run = execute_run(ctx.engine, run_id, progress)
    except DomainError:
        raise
    except Exception as exc:
        raise DomainError(f"Scoring run {run_id} failed: {type(exc).__name__}: {exc}") from exc
    with unit_of_work(ctx.factory) as session:
        follow_up = enqueue(
            session, AFTER_RUN_KIND, {"run_id": run_id}, created_by=f"job:{ctx.job_id}"
        )
    return {"run_id": run.id, "status": run.status, "follow_up_job_id": follow_up.id}


__all__ = [
    "AFTER_RUN_KIND",
    "JOB_KIND",
    "Progress",
    "create_run",
    "enqueue_run",
    "execute_run",
    "rates_to",
    "run_job",
    "run_scoring",
    "set_rate",
]
