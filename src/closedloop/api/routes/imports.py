"""``/api/v1/imports``: upload a file to import, follow its job, read a batch and its rejects,
roll it back.

The upload is checked at once (readable file, every column mapped: 422 otherwise) and then
imported by a worker job: the answer is 202 with the job and a ``Location`` to poll
(``GET /api/v1/imports/jobs/{job_id}``) until the batch summary is there (new, updated,
unchanged and rejected counts, the first rejects). Every reject is in ``rejects.csv``.

A row kept without one of its values (an invalid phone, an impossible birth date: the
value is left out) is counted in ``kept_with_warnings`` and its warnings listed apart from
the rejects (``value_warnings``; all of them in ``warnings.csv``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, Field

from closedloop.api.auth import JOB_QUOTA, ImportsRollbacker, PersonsReader, PersonsWriter
from closedloop.api.params import Offset
from closedloop.api.problems import problem_responses
from closedloop.api.schemas import UtcDatetime
from closedloop.bootstrap import get_engine
from closedloop.db.types import DbId
from closedloop.deps import DbSession
from closedloop.errors import ValidationFailed
from closedloop.ingest import (
    KINDS,
    MappingRequest,
    Options,
    background,
    batches,
    parse_pairs,
    prepare_run,
    uploads,
)
from closedloop.users.service import audit

router = APIRouter(prefix="/imports", tags=["imports"])
BatchId = Annotated[DbId, Path(description="The batch's id.")]
JobId = Annotated[DbId, Path(description="The import job's id.")]


class RejectPublic(BaseModel):
    """One refused value: the file line, the field, the value (cut at 200 characters)."""

    line: int
    field: str | None
    value: str | None
    reason: str


class ImportSummary(BaseModel):
    """What an import did."""

    batch_id: int
    kind: str
    source: str
    status: str = Field(description="done, dry_run, failed (see error) or rolled_back")
    dry_run: bool
    counts: dict[str, Any] = Field(
        description="rows, new, updated, unchanged, kept_with_warnings, rejected, duplicates, empty"
    )
    rejects: list[RejectPublic] = Field(description="The first rejects, in file order.")
    rejects_total: int
    value_warnings: list[RejectPublic] = Field(
        [], description="The first values left out of kept rows, in file order."
    )
    value_warnings_total: int = 0
    warnings: list[str] = Field([], description="Warnings about the file as a whole.")
    file: dict[str, Any] = Field(default_factory=dict, description="format, encoding, delimiter")
    mapping: dict[str, str] = Field(default_factory=dict, description="column → target")
    resumed_at_row: int = 0
    error: str | None = None
    seconds: float = 0.0


class ImportJobPublic(BaseModel):
    """An import job: queued, running (with its progress), then done with the summary."""

    job_id: int
    status: str = Field(description="queued, running, done, failed or cancelled")
    progress: float = Field(description="0 to 1")
    message: str | None = None
    error: str | None = Field(None, description="Why the job failed (or is being retried).")
    batch_id: int | None = Field(None, description="The batch, once the import has started.")
    dry_run: bool
    counts: dict[str, Any] = Field(default_factory=dict, description="The batch's counts so far.")
    summary: ImportSummary | None = Field(None, description="The batch summary, once done.")


class BatchPublic(BaseModel):
    """An import batch as stored."""

    id: int
    kind: str
    source: str
    filename: str | None
    status: str
    dry_run: bool
    counts: dict[str, Any]
    rows_done: int
    mapping_name: str | None
    created_by: str | None
    started_at: UtcDatetime
    finished_at: UtcDatetime | None
    error: str | None
    rolled_back_at: UtcDatetime | None
    rolled_back_by: str | None
    rejects: list[RejectPublic] = []
    rejects_total: int = 0
    value_warnings: list[RejectPublic] = Field(
        [], description="The first values left out of kept rows (the rows were stored)."
    )
    value_warnings_total: int = 0


def _rejects(
    db: DbSession, batch_id: int, limit: int, severity: str = "error"
) -> list[RejectPublic]:
    return [
        RejectPublic(line=r.line_no, field=r.field, value=r.value, reason=r.reason)
        for r in batches.rejects(db, batch_id, limit=limit, severity=severity)
    ]


def _job_out(db: DbSession, job_id: int) -> ImportJobPublic:
    job = background.import_job(db, job_id)
    summary = None
    if job.summary is not None and job.status == "done":
        summary = ImportSummary.model_validate(job.summary)
    return ImportJobPublic(
        job_id=job.job_id, status=job.status, progress=job.progress, message=job.message,
        error=job.error, batch_id=job.batch_id, dry_run=job.dry_run, counts=job.counts,
        summary=summary,
    )  # fmt: skip


@router.post(
    "",
    response_model=ImportJobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(400, 401, 403, 409, 422, 429),
    dependencies=[JOB_QUOTA],
)
def create_import(
    request: Request,
    response: Response,
    db: DbSession,
    user: PersonsWriter,
    file: Annotated[UploadFile, File(description="CSV, TSV, XLSX, JSON, NDJSON or Parquet.")],
    kind: Annotated[
        str,
        Form(description="What the file holds: " + ", ".join(KINDS) + "."),
    ],
    source: Annotated[str, Form(max_length=64, description="The source system.")] = "import",
    dry_run: Annotated[bool, Form(description="Validate and count only.")] = False,
    mapping: Annotated[
        str | None, Form(max_length=64, description="A saved mapping profile.")
    ] = None,
    map: Annotated[list[str] | None, Form(description="COLUMN=FIELD, repeatable.")] = None,
    as_attribute: Annotated[
        list[str] | None, Form(description="COLUMN[:TYPE], repeatable.")
    ] = None,
    as_identifier: Annotated[
        list[str] | None, Form(description="COLUMN[:SCHEME], repeatable.")
    ] = None,
    ignore: Annotated[list[str] | None, Form(description="COLUMN, repeatable.")] = None,
    us_dates: Annotated[
        bool, Form(description="Month-first dates (03/05/2024 = March 5).")
    ] = False,
    default_country: Annotated[str | None, Form(pattern=r"^[A-Za-z]{2}$")] = None,
) -> ImportJobPublic:
    """Check an uploaded file and queue its import (dry runs too) as a worker job.

    The file must be readable and every column mapped: a column matching no field gives 422
    listing every such column and the ways out (map it, make it an attribute or an
    identifier, or ignore it); nothing is queued then. The answer is 202 with the job;
    `Location` names it: poll `GET /api/v1/imports/jobs/{job_id}` until `status` is `done`
    (the batch summary is then in `summary`) or `failed` (see `error`). Rows are upserted by
    (source, external id); invalid rows are reported as rejects and the others stored.
    """
    try:
        request_map = parse_pairs(map or [])
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[{"field": "map", "message": str(exc)}]) from exc
    name = file.filename or "upload"
    token, path = uploads.save(file.file, name)
    options = Options(
        source=source,
        dry_run=dry_run,
        date_order="mdy" if us_dates else "dmy",
        default_country=default_country,
        filename=name,
        mapping_name=mapping,
        mapping=MappingRequest(
            explicit=request_map,
            as_attribute=list(as_attribute or []),
            as_identifier=list(as_identifier or []),
            ignore=list(ignore or []),
        ),
        created_by=user.username,
    )
    try:
        prepare_run(get_engine(), path, kind, options)  # unreadable file, unmapped column: 422
        job = background.queue_import(db, token, kind, options)
    except BaseException:
        uploads.remove(token)
        raise
    audit(db, user, "import", "job", job.id, channel="api",
          detail={"kind": kind, "source": source, "dry_run": dry_run})  # fmt: skip
    response.headers["Location"] = request.app.url_path_for("get_import_job", job_id=job.id)
    return _job_out(db, job.id)


@router.get(
    "/jobs/{job_id}",
    response_model=ImportJobPublic,
    responses=problem_responses(401, 403, 404, 422),
)
def get_import_job(job_id: JobId, db: DbSession, user: PersonsReader) -> ImportJobPublic:
    """An import job: its status and progress, its batch once started, the batch summary once
    done. Poll it after `POST /api/v1/imports` (every second or two)."""
    return _job_out(db, job_id)


@router.get("", response_model=list[BatchPublic], responses=problem_responses(401, 403, 422))
def list_imports(
    db: DbSession,
    user: PersonsReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> list[BatchPublic]:
    """The latest import batches first."""
    return [
        BatchPublic.model_validate(batches.batch_dict(b))
        for b in batches.list_batches(db, limit=limit, offset=offset)
    ]


@router.get(
    "/{batch_id}", response_model=BatchPublic, responses=problem_responses(401, 403, 404, 422)
)
def get_import(
    batch_id: BatchId,
    db: DbSession,
    user: PersonsReader,
    rejects: Annotated[
        int, Query(ge=0, le=10_000, description="How many rejects (and warnings).")
    ] = 100,
) -> BatchPublic:
    """One batch with its counts, its first rejects and its first warnings."""
    batch = batches.get_batch(db, batch_id)
    out = BatchPublic.model_validate(batches.batch_dict(batch))
    out.rejects = _rejects(db, batch_id, rejects)
    out.rejects_total = batches.reject_count(db, batch_id)
    out.value_warnings = _rejects(db, batch_id, rejects, "warning")
    out.value_warnings_total = batches.reject_count(db, batch_id, severity="warning")
    return out


@router.get(
    "/{batch_id}/rejects.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(401, 403, 404, 422)},
)
def get_rejects_csv(batch_id: BatchId, db: DbSession, user: PersonsReader) -> Response:
    """Every reject of the batch as CSV: line, field, value, reason."""
    data = batches.rejects_csv(db, batch_id)
    return Response(
        content=data.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{batch_id}-rejects.csv"'},
    )


@router.get(
    "/{batch_id}/warnings.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(401, 403, 404, 422)},
)
def get_warnings_csv(batch_id: BatchId, db: DbSession, user: PersonsReader) -> Response:
    """Every warning of the batch (a value left out of a kept row) as CSV: line, field,
    value, reason."""
    data = batches.rejects_csv(db, batch_id, severity="warning")
    return Response(
        content=data.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{batch_id}-warnings.csv"'},
    )


class RollbackPublic(BaseModel):
    """What a rollback did."""

    batch_id: int
    status: str
    restored: int = Field(description="records whose changed values were put back")
    removed: int = Field(description="records the batch had created, removed")
    kept: int = Field(description="values left as they are: changed again since the import")
    persons_removed: int = Field(0, description="persons the batch had created, removed")
    orders_removed: int = Field(0, description="orders the batch had created, removed")
    consents_removed: int = Field(0, description="consent events removed with them")
    persons_kept: int = Field(
        0,
        description="persons the batch had created, kept because they have history since "
        "(orders from elsewhere, communications, responses, merges, consents, changes)",
    )
    kept_because: dict[str, int] = Field(
        default_factory=dict, description="How many kept persons have each kind of history."
    )
    rolled_back_at: UtcDatetime | None = None


@router.post(
    "/{batch_id}/rollback",
    response_model=RollbackPublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def rollback_import(batch_id: BatchId, db: DbSession, user: ImportsRollbacker) -> RollbackPublic:
    """Undo a whole batch: restore what it changed, remove what it created.

    Persons it created who have gained history since (orders from elsewhere,
    communications, responses, merges, later consents or changes) are kept, as a person
    delete would keep them, and counted in ``persons_kept``. 409 when later changes depend
    on it otherwise (the detail says which, and what to do).
    """
    batches.get_batch(db, batch_id)
    db.rollback()  # release the read before the rollback takes the write lock
    done = batches.rollback_batch(get_engine(), batch_id, user=user.username)
    at = done.pop("rolled_back_at")
    audit(db, user, "rollback", "import_batch", batch_id, channel="api", detail=done)
    return RollbackPublic(
        batch_id=batch_id,
        status="rolled_back",
        restored=done["restored"],
        removed=done["removed"],
        kept=done["kept"],
        persons_removed=done.get("persons_removed", 0),
        orders_removed=done.get("orders_removed", 0),
        consents_removed=done["consents_removed"],
        persons_kept=done["persons_kept"],
        kept_because=done["kept_because"],
        rolled_back_at=at,
    )
