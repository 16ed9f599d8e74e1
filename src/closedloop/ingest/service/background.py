"""Imports as worker jobs: the web page and the API store the upload and queue ``ingest.run``;
a worker (``closedloop worker`` or the thread ``closedloop serve`` embeds) runs it with
progress updates. The CLI stays synchronous.

A worker killed mid-import leaves its job ``running`` with a stale heartbeat: the job is
queued again (:func:`closedloop.jobs.service.requeue_stale`) and the next run resumes the
batch after its last committed chunk, without duplicates (same file, kind, source and
mapping: see :func:`closedloop.ingest.service.runner.run_import`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.i18n import N_, Said
from closedloop.ingest.map.mapping import MappingRequest
from closedloop.ingest.models import ImportBatch
from closedloop.ingest.service import uploads
from closedloop.ingest.service.jobkind import KIND
from closedloop.ingest.service.runner import run_import
from closedloop.ingest.validate.context import Options
from closedloop.jobs.models import Job
from closedloop.jobs.service import JobContext, Retry, enqueue, get_job

#: The progress message of a running import.
ROWS_READ = Said(N_("%(rows)s rows"))
#: Seconds between two progress records of a running import.
PROGRESS_EVERY = 1.0
#: Rejects kept in the job's result (every reject stays with the batch).
RESULT_REJECTS = 100
_OPTION_NAMES = {f.name for f in fields(Options)} - {"mapping", "job_id"}


def options_payload(options: Options) -> dict[str, Any]:
    """``options`` as JSON (the job's payload)."""
    data = {name: getattr(options, name) for name in _OPTION_NAMES}
    data["mapping"] = asdict(options.mapping)
    return data


def options_from(data: dict[str, Any]) -> Options:
    """The options of a job's payload."""
    known = {k: v for k, v in data.items() if k in _OPTION_NAMES}
    mapping = MappingRequest(**(data.get("mapping") or {}))
    return Options(mapping=mapping, **known)


def queue_import(session: Session, token: str, kind: str, options: Options) -> Job:
    """Queue the import of the upload ``token`` (see :mod:`closedloop.ingest.service.uploads`); the
    job exists once the caller's transaction commits. A real import removes the upload when
    it is done; a dry run keeps it, so that the same file can then be imported for real."""
    if uploads.find(token) is None:
        raise ValidationFailed("This upload has expired. Upload the file again.")
    payload = {"token": token, "kind": kind, "options": options_payload(options)}
    return enqueue(session, KIND, payload, created_by=options.created_by)


def run_job(ctx: JobContext) -> dict[str, Any]:
    """The ``ingest.run`` handler: import the stored upload, recording progress; the result
    is the batch summary (its first rejects)."""
    token = str(ctx.payload.get("token") or "")
    path = uploads.find(token)
    if path is None:
        raise ValidationFailed("The uploaded file is gone (uploads are kept for a day).")
    options = options_from(dict(ctx.payload.get("options") or {}))
    options.job_id = ctx.job_id
    last = [0.0]

    def progress(fraction: float, counts: dict[str, int]) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            ctx.progress(fraction, ROWS_READ(rows=counts.get("rows", 0)))

    try:
        summary = run_import(ctx.engine, path, str(ctx.payload["kind"]), options, progress=progress)
    except Conflict as exc:  # the same file is being imported by a live process: wait
        raise Retry(exc.detail, 60) from exc
    if not options.dry_run:
        uploads.remove(token)
    result = summary.as_dict()
    result["rejects"] = result["rejects"][:RESULT_REJECTS]
    return result


@dataclass
class ImportJob:
    """An import job as its poller sees it."""

    job_id: int
    status: str
    progress: float
    message: str | None
    error: str | None
    batch_id: int | None
    dry_run: bool
    summary: dict[str, Any] | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Whether the job will not change any more (done, failed or cancelled)."""
        return self.status in ("done", "failed", "cancelled")


def import_job(session: Session, job_id: int) -> ImportJob:
    """The import job ``job_id`` with its batch (once the import has started)."""
    job = get_job(session, job_id)
    if job.kind != KIND:
        raise NotFound(f"Job {job_id} is not an import.")
    batch = session.scalars(
        select(ImportBatch).where(ImportBatch.job_id == job_id).order_by(ImportBatch.id.desc())
    ).first()
    options = dict((job.payload or {}).get("options") or {})
    return ImportJob(
        job_id=job.id,
        status=job.status,
        progress=float(job.progress or 0.0),
        message=job.message,
        error=job.error,
        batch_id=batch.id if batch is not None else None,
        dry_run=bool(options.get("dry_run")),
        summary=dict(job.result) if job.result else None,
        counts=dict(batch.counts or {}) if batch is not None else {},
    )
