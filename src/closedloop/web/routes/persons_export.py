"""The persons list's export button: the persons the list shows (its search and lifecycle
filter, every page of it) as a CSV file, for roles that may export persons."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from closedloop.bootstrap import get_engine
from closedloop.contacts.models import Person
from closedloop.contacts.queries import person_search
from closedloop.contacts.schemas import PersonFilter
from closedloop.deps import DbSession
from closedloop.exports.tables import export_persons
from closedloop.settings import get_settings
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import LifecycleStatus
from closedloop.web.labels import LIFECYCLE_CODES
from closedloop.web.routes import page_router
from closedloop.web.security import requires

router = page_router()
Exporter = Annotated[User, requires(Permission.PERSONS_EXPORT)]
MAX_QUERY = 200


def list_filter(q: str | None, status: str | None) -> PersonFilter:
    """The persons list's filter from its address bar (as the list reads it)."""
    text = (q or "").strip()[:MAX_QUERY]
    lifecycle = LifecycleStatus(status) if status in LIFECYCLE_CODES else None
    return PersonFilter(q=text or None, lifecycle_status=lifecycle)


@router.get("/persons/export.csv", response_class=FileResponse)
def export_list(request: Request, db: DbSession, user: Exporter) -> Response:
    """Download the persons the list shows with the same search and filter, all pages, in
    the list's order, as CSV (the columns of ``closedloop export persons``); audited with
    the filter and the number of persons."""
    params = request.query_params
    flt = list_filter(params.get("q"), params.get("status"))
    stmt = person_search(flt, get_settings().default_country)
    ids = list(
        db.scalars(
            stmt.with_only_columns(Person.id).order_by(
                Person.family_key, Person.given_key, Person.id
            )
        )
    )
    handle, name = tempfile.mkstemp(prefix="closedloop-persons-", suffix=".csv")
    os.close(handle)
    path = Path(name)
    count = export_persons(get_engine(), ids, path, "csv")
    users_service.audit(db, user, "export", "person", channel="web",
                        detail={"filter": flt.model_dump(mode="json", exclude_none=True),
                                "count": count})  # fmt: skip
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename=f"persons-{date.today().isoformat()}.csv",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


__all__ = ["list_filter", "router"]
