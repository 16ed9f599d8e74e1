"""Imports in the browser: upload a file, confirm the suggested mapping, follow the import job
(a progress bar), read the summary and the rejects, download them as CSV, roll a batch back.

The uploaded file waits in a private temporary folder between the upload and the confirmed
import; its token is kept in the user's session, so nobody else can import it. The confirmed
import (a dry run too) is a worker job (``ingest.run``); its page refreshes itself until the
batch is done, then shows the batch.
"""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from closedloop.bootstrap import get_engine
from closedloop.deps import DbSession
from closedloop.errors import DomainError, ValidationFailed
from closedloop.i18n import N_
from closedloop.ingest import (
    ATTRIBUTE_TYPES,
    COUNT_KEYS,
    KINDS,
    MappingRequest,
    Options,
    RowProblem,
    TableError,
    background,
    batches,
    get_kind,
    open_table,
    prepare_run,
    profiles,
    slug,
    suggest,
    uploads,
)
from closedloop.ingest import catalogue as ingest_catalogue
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.web.rendering import flash, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import WebError, not_found, requires

router = page_router()
Importer = Annotated[User, requires(Permission.PERSONS_WRITE)]
Rollbacker = Annotated[User, requires(Permission.IMPORTS_ROLLBACK)]
SESSION_UPLOADS = "import_uploads"
SAMPLE_ROWS = 3
REJECTS_SHOWN = 200


def _bad_request(detail: str) -> WebError:
    return WebError(400, N_("The file cannot be imported"), detail)


def _recent(db: DbSession) -> list[dict[str, Any]]:
    return [batches.batch_dict(b) for b in batches.list_batches(db, limit=20)]


@router.get("/imports", response_class=Response)
def imports_page(request: Request, db: DbSession, user: Importer) -> Response:
    """The upload form and the latest batches."""
    with get_engine().connect() as conn:
        saved = [(p.name, p.kind) for p in profiles.list_all(conn)]
    context = {
        "active": "imports",
        "kinds": list(KINDS),
        "batches": _recent(db),
        "profiles": saved,
        "error": None,
    }
    return render(request, "imports/index.html", context)


def _targets(kind_name: str, column: str) -> list[tuple[str, str]]:
    """(value, label) of every target a column may take, for the mapping form."""
    kind = get_kind(kind_name)
    options = [(f.name, f.name) for f in kind.fields]
    if kind.extensible:
        code = slug(column)
        options += [(f"attribute:{code}:{t}", f"attribute ({t})") for t in ATTRIBUTE_TYPES]
        if kind.name == "persons":
            options.append((f"identifier:{code}", "identifier"))
    options.append(("ignore", "ignore"))
    return options


@router.post("/imports/upload", response_class=Response)
async def upload(request: Request, db: DbSession, user: Importer) -> Response:
    """Keep the uploaded file and show the mapping suggested from its column names."""
    form = await request.form()
    upload_file = form.get("file")
    kind_name = form_str(form, "kind")
    if not isinstance(upload_file, UploadFile) or not upload_file.filename:
        raise _bad_request(N_("Choose a file to import."))
    if kind_name not in KINDS:
        raise _bad_request(N_("Choose what the file holds."))
    token, path = uploads.save(upload_file.file, upload_file.filename)
    try:
        table = open_table(path, name=upload_file.filename)
        samples = [
            values
            for _line, values in islice(table.rows(0), SAMPLE_ROWS)
            if not isinstance(values, RowProblem)
        ]
    except TableError as exc:
        uploads.remove(token)
        return _index_with_error(request, db, str(exc))
    pending = dict(request.session.get(SESSION_UPLOADS) or {})
    pending = dict(list(pending.items())[-4:])  # a few pending uploads per session at most
    pending[token] = upload_file.filename[-200:]
    request.session[SESSION_UPLOADS] = pending
    kind = get_kind(kind_name)
    mapping_name = form_str(form, "mapping").strip() or None
    with get_engine().connect() as conn:
        catalogue = ingest_catalogue(conn)
        profile = profiles.get(conn, mapping_name) if mapping_name else None
    suggested = suggest(kind, table.headers, catalogue)
    if profile is not None and profile.kind == kind.name:
        suggested.update({c: t for c, t in profile.columns.items() if c in table.headers})
    columns = []
    for i, header in enumerate(table.headers):
        targets = _targets(kind.name, header)
        chosen = suggested.get(header, "")
        if chosen and chosen not in {v for v, _label in targets}:
            targets.insert(0, (chosen, chosen))
        columns.append(
            {
                "index": i,
                "name": header,
                "samples": [row[i] for row in samples if i < len(row) and row[i] is not None],
                "chosen": chosen,
                "targets": targets,
            }
        )
    context = {
        "active": "imports",
        "token": token,
        "filename": upload_file.filename,
        "kind": kind.name,
        "source": form_str(form, "source").strip() or "import",
        "dry_run": form_str(form, "dry_run") == "on",
        "mapping_name": mapping_name or "",
        "columns": columns,
        "file": table.describe(),
        "errors": [],
    }
    return render(request, "imports/mapping.html", context)


def _index_with_error(request: Request, db: DbSession, detail: str, status: int = 422) -> Response:
    with get_engine().connect() as conn:
        saved = [(p.name, p.kind) for p in profiles.list_all(conn)]
    context = {
        "active": "imports",
        "kinds": list(KINDS),
        "batches": _recent(db),
        "profiles": saved,
        "error": detail,
    }
    return render(request, "imports/index.html", context, status=status)


@router.post("/imports/run", response_class=Response)
async def run(request: Request, db: DbSession, user: Importer) -> Response:
    """Import the pending upload with the mapping the user confirmed."""
    form = await request.form()
    token = form_str(form, "token")
    pending = dict(request.session.get(SESSION_UPLOADS) or {})
    path = uploads.find(token) if token in pending else None
    if path is None:
        raise _bad_request(N_("This upload has expired. Upload the file again."))
    kind_name = form_str(form, "kind")
    explicit: dict[str, str] = {}
    for key in form:
        if key.startswith("target:"):
            explicit[key[len("target:") :]] = form_str(form, key) or "ignore"
    options = Options(
        source=form_str(form, "source").strip() or "import",
        dry_run=form_str(form, "dry_run") == "on",
        filename=pending[token],
        mapping_name=form_str(form, "save_as").strip()[:64] or None,
        mapping=MappingRequest(explicit=explicit),
        created_by=user.username,
    )
    try:
        prepare_run(get_engine(), path, kind_name, options)  # nothing queued when it fails
        job = background.queue_import(db, token, kind_name, options)
    except ValidationFailed as exc:
        return _index_with_error(
            request, db, exc.detail + " " + "; ".join(e["message"] for e in exc.errors[:5])
        )
    except DomainError as exc:
        return _index_with_error(request, db, exc.detail, status=exc.status)
    if not options.dry_run:
        pending.pop(token, None)  # the job removes the file when it is done
        request.session[SESSION_UPLOADS] = pending
    users_service.audit(
        db, user, "import", "job", job.id, channel="web",
        detail={"kind": kind_name, "dry_run": options.dry_run},
    )  # fmt: skip
    return RedirectResponse(f"/imports/jobs/{job.id}", status_code=303)


@router.get("/imports/jobs/{job_id:int}", response_class=Response)
def job_page(request: Request, job_id: int, db: DbSession, user: Importer) -> Response:
    """A queued or running import: its progress, refreshed every two seconds; once done, the
    batch page."""
    try:
        job = background.import_job(db, job_id)
    except DomainError as exc:
        raise not_found() from exc
    if job.status == "done" and job.batch_id is not None:
        return RedirectResponse(f"/imports/{job.batch_id}", status_code=303)
    context = {"active": "imports", "job": job, "percent": round(job.progress * 100)}
    return render(request, "imports/job.html", context)


@router.get("/imports/jobs/{job_id:int}.json", response_class=Response)
def job_status(request: Request, job_id: int, db: DbSession, user: Importer) -> Response:
    """The job's status as JSON (for scripts polling the page)."""
    try:
        job = background.import_job(db, job_id)
    except DomainError as exc:
        raise not_found() from exc
    data = {
        "job_id": job.job_id, "status": job.status, "progress": job.progress,
        "batch_id": job.batch_id, "counts": job.counts, "error": job.error,
    }  # fmt: skip
    return JSONResponse(data)


@router.get("/imports/{batch_id:int}", response_class=Response)
def batch_page(request: Request, batch_id: int, db: DbSession, user: Importer) -> Response:
    """A batch: its counts, its rows kept with warnings and its rejects (the first 200 of
    each) and the rollback button."""
    try:
        batch = batches.get_batch(db, batch_id)
    except DomainError as exc:
        raise not_found() from exc
    shown = batches.batch_dict(batch)
    context = {
        "active": "imports",
        "batch": shown,
        # A batch written by other means (the demo generator) counts rows per table.
        "written": [
            (name, n)
            for name, n in shown["counts"].items()
            if name not in COUNT_KEYS and isinstance(n, int) and not isinstance(n, bool)
        ],
        "rejects": batches.rejects(db, batch_id, limit=REJECTS_SHOWN),
        "rejects_total": batches.reject_count(db, batch_id),
        "warned": batches.rejects(db, batch_id, limit=REJECTS_SHOWN, severity="warning"),
        "warned_total": batches.reject_count(db, batch_id, severity="warning"),
        "shown": REJECTS_SHOWN,
    }
    return render(request, "imports/batch.html", context)


@router.get("/imports/{batch_id:int}/rejects.csv", response_class=Response)
def rejects_csv(request: Request, batch_id: int, db: DbSession, user: Importer) -> Response:
    """Every reject of the batch as CSV."""
    return _problems_csv(db, batch_id, "error", "rejects")


@router.get("/imports/{batch_id:int}/warnings.csv", response_class=Response)
def warnings_csv(request: Request, batch_id: int, db: DbSession, user: Importer) -> Response:
    """Every warning of the batch (a value left out of a kept row) as CSV."""
    return _problems_csv(db, batch_id, "warning", "warnings")


def _problems_csv(db: DbSession, batch_id: int, severity: str, name: str) -> Response:
    try:
        data = batches.rejects_csv(db, batch_id, severity=severity)
    except DomainError as exc:
        raise not_found() from exc
    return Response(
        content=data.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{batch_id}-{name}.csv"'},
    )


@router.get("/imports/{batch_id:int}/rollback", response_class=Response)
def rollback_confirm(request: Request, batch_id: int, db: DbSession, user: Rollbacker) -> Response:
    """The confirmation of a rollback: how many persons, orders and consents will go, and
    how many persons are kept because of their history."""
    try:
        batch = batches.get_batch(db, batch_id)
        plan = batches.rollback_preview(db, batch_id)
    except DomainError as exc:
        raise not_found() from exc
    context = {"active": "imports", "batch": batches.batch_dict(batch), "plan": plan}
    return render(request, "imports/rollback.html", context)


@router.post("/imports/{batch_id:int}/rollback", response_class=Response)
def rollback(request: Request, batch_id: int, db: DbSession, user: Rollbacker) -> Response:
    """Undo the whole batch (after its confirmation page); a refusal is shown with its
    reason."""
    db.rollback()
    try:
        done = batches.rollback_batch(get_engine(), batch_id, user=user.username)
    except DomainError as exc:
        if exc.status == 404:
            raise not_found() from exc
        flash(request, exc.detail, "error")
        return RedirectResponse(f"/imports/{batch_id}", status_code=303)
    done.pop("rolled_back_at")
    users_service.audit(db, user, "rollback", "import_batch", batch_id, channel="web", detail=done)
    flash(request, N_("The import was rolled back."))
    return RedirectResponse(f"/imports/{batch_id}", status_code=303)
