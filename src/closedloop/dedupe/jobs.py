"""Worker jobs of identity resolution: ``dedupe.index`` (persons written in bulk) and
``dedupe.run`` (the batch deduplication), registered through ``job_handlers``.

Heavy modules (pandas, Splink, DuckDB) are imported inside the handlers, so registering
them costs nothing in processes that never run them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from closedloop.dedupe.said import INDEXED, PHASE_DONE, PHASE_TEXT, RUN_DONE
from closedloop.errors import ValidationFailed
from closedloop.jobs.guards import one_at_a_time
from closedloop.jobs.models import Job
from closedloop.jobs.service import enqueue

if TYPE_CHECKING:
    from closedloop.jobs.service import JobContext

INDEX_KIND = "dedupe.index"
RUN_KIND = one_at_a_time("dedupe.run")
#: Share of the job each phase of ``dedupe.run`` ends at (for the progress bar).
_PHASES = {"read": 0.1, "dedupe": 0.6, "index": 0.7, "store": 0.85, "merge": 0.95}
_RUN_OPTIONS = ("threshold", "review_threshold", "merge", "link_only")


def enqueue_index(session: Session, person_ids: list[int], batch_id: int | None) -> Job | None:
    """Queue one ``dedupe.index`` job for persons written in bulk (none for no persons)."""
    ids = sorted({int(i) for i in person_ids})
    if not ids:
        return None
    return enqueue(session, INDEX_KIND, {"person_ids": ids, "batch_id": batch_id})


def enqueue_run(
    session: Session,
    *,
    threshold: float | None = None,
    review_threshold: float | None = None,
    merge: bool = True,
    link_only: bool = False,
    created_by: str | None = None,
) -> Job:
    """Queue a ``dedupe.run`` job (the worker runs :func:`dedupe.runs.run_dedupe`)."""
    payload: dict[str, Any] = {"merge": merge}
    if link_only:
        payload["link_only"] = True
    if threshold is not None:
        payload["threshold"] = threshold
    if review_threshold is not None:
        payload["review_threshold"] = review_threshold
    _check_thresholds(payload)
    return enqueue(session, RUN_KIND, payload, created_by=created_by, max_attempts=1)


def _check_thresholds(payload: dict[str, Any]) -> None:
    from closedloop.dedupe.settings import get_dedupe_settings

    settings = get_dedupe_settings()
    upper = float(payload.get("threshold", settings.threshold))
    lower = float(payload.get("review_threshold", settings.review_threshold))
    if not 0 < lower <= upper < 1:
        raise ValidationFailed(
            "Thresholds must satisfy 0 < review threshold <= threshold < 1.",
            errors=[{"field": "review_threshold", "message": f"{lower} > {upper}"}],
        )


def index_handler(ctx: JobContext) -> dict[str, Any]:
    """``dedupe.index``: keys, then the online check, for ``payload["person_ids"]``."""
    from closedloop.dedupe.indexing import index_imported

    raw = ctx.payload.get("person_ids")
    if not isinstance(raw, list) or not all(isinstance(i, int) for i in raw):
        raise ValidationFailed(
            "A dedupe.index job needs person_ids: a list of person ids.",
            errors=[{"field": "person_ids", "message": "expected a list of integers"}],
        )

    def progress(done: int, total: int) -> None:
        ctx.progress(done / total if total else 1.0, INDEXED(done=done // 2, total=total // 2))

    result = index_imported(ctx.factory, raw, progress=progress)
    result["batch_id"] = ctx.payload.get("batch_id")
    return result


def run_handler(ctx: JobContext) -> dict[str, Any]:
    """``dedupe.run``: the batch deduplication, its report as result (the stored pairs and
    the merges are committed as they are done, so a failure later keeps them).

    On SQLite progress is written only while the run reads and scores: once it writes, it
    holds the store's single write lock, and a progress update would have to wait for it.
    """
    from closedloop.db.uow import unit_of_work
    from closedloop.dedupe.runs import run_dedupe

    options = {k: ctx.payload[k] for k in _RUN_OPTIONS if k in ctx.payload}
    _check_thresholds(options)
    writes_block = ctx.engine.dialect.name == "sqlite"
    start = {"read": 0.0, "dedupe": 0.1, "index": 0.6, "store": 0.7, "merge": 0.85}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in _PHASES or (writes_block and phase not in ("read", "dedupe")):
            return
        share = done / total if total else 0.0
        fraction = start[phase] + (_PHASES[phase] - start[phase]) * share
        text = PHASE_TEXT[phase]
        ctx.progress(fraction, PHASE_DONE(phase=text, done=done, total=total) if total else text)

    with unit_of_work(ctx.factory) as session:
        report = run_dedupe(
            session, job_id=ctx.job_id, progress=progress, checkpoint=session.commit, **options
        )
    ctx.progress(1.0, RUN_DONE(merges=report.merges, pending=report.pending))
    return asdict(report)


HANDLERS = {INDEX_KIND: index_handler, RUN_KIND: run_handler}
