"""``/api/v1/imports``: upload a file to import, read a batch and its rejects, roll it back.

An import runs while the request waits and answers with the batch summary (new, updated,
unchanged and rejected counts, the first rejects). Every reject is in ``rejects.csv``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, Field

from closedloop.api.auth import PersonsReader, PersonsWriter
from closedloop.api.errors import problem_responses
from closedloop.api.schemas import UtcDatetime
from closedloop.bootstrap import get_engine
from closedloop.deps import DbSession
from closedloop.errors import ValidationFailed
from closedloop.ingest import batches, uploads
from closedloop.ingest.context import Options
from closedloop.ingest.fields import KINDS
from closedloop.ingest.mapping import MappingRequest, parse_pairs
from closedloop.ingest.runner import run_import
from closedloop.users.service import audit

router = APIRouter(prefix="/imports", tags=["imports"])
BatchId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The batch's id.")]


class RejectOut(BaseModel):
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
        description="rows, new, updated, unchanged, rejected, duplicates, empty"
    )
    rejects: list[RejectOut] = Field(description="The first rejects, in file order.")
    rejects_total: int
    warnings: list[str] = []
    file: dict[str, Any] = Field(default_factory=dict, description="format, encoding, delimiter")
    mapping: dict[str, str] = Field(default_factory=dict, description="column → target")
    resumed_at_row: int = 0
    error: str | None = None
    seconds: float = 0.0


class BatchOut(BaseModel):
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
    rejects: list[RejectOut] = []
    rejects_total: int = 0


def _rejects(db: DbSession, batch_id: int, limit: int) -> list[RejectOut]:
    return [
        RejectOut(line=r.line_no, field=r.field, value=r.value, reason=r.reason)
        for r in batches.rejects(db, batch_id, limit=limit)
    ]


@router.post(
    "",
    response_model=ImportSummary,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 409, 422),
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
) -> ImportSummary:
    """Import an uploaded file and answer with the batch summary.

    A column matching no field gives 422 listing every such column and the ways out (map it,
    make it an attribute or an identifier, or ignore it); nothing is imported then. Rows are
    upserted by (source, external id); invalid rows are reported in `rejects` and the others
    stored. `Location` names the batch.
    """
    try:
        request_map = parse_pairs(map or [])
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[{"field": "map", "message": str(exc)}]) from exc
    name = file.filename or "upload"
    token, path = uploads.save(file.file, name)
    try:
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
            workers=0,
        )
        summary = run_import(get_engine(), path, kind, options)
    finally:
        uploads.remove(token)
    audit(db, user, "import", "import_batch", summary.batch_id, channel="api",
          detail={"kind": summary.kind, "counts": summary.counts})  # fmt: skip
    response.headers["Location"] = request.app.url_path_for("get_import", batch_id=summary.batch_id)
    return ImportSummary.model_validate(summary.as_dict())


@router.get("", response_model=list[BatchOut], responses=problem_responses(401, 403, 422))
def list_imports(
    db: DbSession,
    user: PersonsReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[BatchOut]:
    """The latest import batches first."""
    return [
        BatchOut.model_validate(batches.batch_dict(b))
        for b in batches.list_batches(db, limit=limit, offset=offset)
    ]


@router.get("/{batch_id}", response_model=BatchOut, responses=problem_responses(401, 403, 404, 422))
def get_import(
    batch_id: BatchId,
    db: DbSession,
    user: PersonsReader,
    rejects: Annotated[int, Query(ge=0, le=10_000, description="How many rejects.")] = 100,
) -> BatchOut:
    """One batch with its counts and its first rejects."""
    batch = batches.get_batch(db, batch_id)
    out = BatchOut.model_validate(batches.batch_dict(batch))
    out.rejects = _rejects(db, batch_id, rejects)
    out.rejects_total = batches.reject_count(db, batch_id)
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


class RollbackOut(BaseModel):
    """What a rollback did."""

    batch_id: int
    status: str
    restored: int = Field(description="records whose changed values were put back")
    removed: int = Field(description="records the batch had created, removed")
    kept: int = Field(description="values left as they are: changed again since the import")
    rolled_back_at: datetime | None = None


@router.post(
    "/{batch_id}/rollback",
    response_model=RollbackOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def rollback_import(batch_id: BatchId, db: DbSession, user: PersonsWriter) -> RollbackOut:
    """Undo a whole batch: restore what it changed, remove what it created.

    409 when later changes depend on it (the detail says which, and what to do).
    """
    batches.get_batch(db, batch_id)
    db.rollback()  # release the read before the rollback takes the write lock
    done = batches.rollback_batch(get_engine(), batch_id, user=user.username)
    audit(db, user, "rollback", "import_batch", batch_id, channel="api", detail=done)
    return RollbackOut(
        batch_id=batch_id,
        status="rolled_back",
        restored=done["restored"],
        removed=done["removed"],
        kept=done["kept"],
    )
