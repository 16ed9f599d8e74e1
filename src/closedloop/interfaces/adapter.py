"""A thin adapter from sync items to the import pipeline (:mod:`closedloop.ingest`).

The sync API upserts through the very importers that read files: the same validation and
standardisation, the same (source, external id) keys, row hashes, before-images and value
origins, and one recorded import batch per request (so a request can be rolled back with
``closedloop import rollback``). Items become rows whose columns are the kind's fields;
their "line numbers" are ``index + 1`` and are turned back into item indexes here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from closedloop.contacts.validation import visible
from closedloop.db.base import utcnow
from closedloop.db.bulk import BulkWriter, writer_for
from closedloop.errors import ValidationFailed
from closedloop.ingest import ChunkResult, Context, Mapping, Target, get_kind
from closedloop.ingest.models import ImportBatch, ImportReject
from closedloop.interfaces.items import ItemResult
from closedloop.settings import get_settings

_LINE = re.compile(r"\bline (\d+)\b")
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def check_source(source: str) -> str:
    """The source system name (1–64 letters, digits, ``_ . : -``) or ValidationFailed."""
    if not _SOURCE.match(source or ""):
        raise ValidationFailed(
            f"The source {source!r} is not a valid source system name: use 1 to 64 letters, "
            "digits, '_', '.', ':' or '-' (for example erp or webshop).",
            errors=[{"field": "source", "message": "1–64 letters, digits, _ . : -", "in": "query"}],
        )
    return source


def context(kind_name: str, source: str, batch_id: int) -> Context:
    """An import context whose columns are every field of ``kind_name``, in order."""
    kind = get_kind(kind_name)
    settings = get_settings()
    mapping = Mapping(kind=kind.name, columns={n: Target("field", n) for n in kind.names})
    return Context(
        kind=kind,
        mapping=mapping,
        batch_id=batch_id,
        source=source,
        dry_run=False,
        date_order="dmy",
        default_country=settings.default_country.upper(),
        default_currency=settings.default_currency.upper(),
        now=utcnow(),
        locale=settings.default_locale,
    )


def item_reason(reason: str) -> str:
    """An importer's reason with its line numbers turned into item indexes."""
    return _LINE.sub(lambda m: f"item {int(m.group(1)) - 1}", reason)


def start_batch(session: Session, kind: str, source: str, user: str | None, n: int) -> int:
    """Record the request as an import batch (kind, source, who); returns its id. On
    SQLite the write lock is taken first so that ids allocated by the importers stay free;
    on PostgreSQL writers of the same source and kind are serialised by an advisory lock."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:  # type: ignore[attr-defined]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"sync:{kind}:{source}"}
        )
    batch = ImportBatch(
        kind=kind,
        source_system=source,
        filename=None,
        status="done",
        counts={},
        created_by=user,
        options={"via": "api"},
        dry_run=False,
        rows_done=n,
        finished_at=utcnow(),
    )
    session.add(batch)
    session.flush()
    return batch.id


def finish_batch(session: Session, batch_id: int, results: Iterable[ItemResult]) -> dict[str, int]:
    """Store the batch's counts and rejects; returns the counts."""
    counts = {"rows": 0, "new": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    rejects: list[dict[str, Any]] = []
    name = {"created": "new"}
    for r in results:
        counts["rows"] += 1
        counts[name.get(r.status, r.status)] = counts.get(name.get(r.status, r.status), 0) + 1
        kept = r.warnings if r.status != "rejected" else []
        if kept:
            counts["kept_with_warnings"] = counts.get("kept_with_warnings", 0) + 1
        for severity, found in (("error", r.errors), ("warning", kept)):
            for e in found:
                value = e.get("value")
                rejects.append(
                    {
                        "batch_id": batch_id,
                        "line_no": r.index,
                        # PostgreSQL refuses NUL in text: control characters are shown escaped
                        "field": visible(e.get("field") or "")[:100] or None,
                        "value": visible(str(value))[:500] if value is not None else None,
                        "reason": visible(str(e["reason"]))[:2000],
                        "severity": severity,
                    }
                )
    if rejects:
        session.execute(insert(ImportReject), rejects)
    batch = session.get(ImportBatch, batch_id)
    if batch is not None:
        batch.counts = counts
    return counts


def refused(results: dict[int, ItemResult], failed: dict[int, str]) -> None:
    """Reject the items the database refused (:class:`Savepoints`), each with its reason."""
    for index, reason in failed.items():
        results[index].id = None
        results[index].reject(None, f"the database refused the item: {reason}")


#: item index → the importer's rejects and warnings of that item:
#: (field, reason, value, whether it is a warning)
Staged = dict[int, list[tuple[str | None, str, str | None, bool]]]


def stage_rejects(
    out: ChunkResult, staged: Staged, indexes: Iterable[int], line_of: Callable[[int], Any]
) -> None:
    """Keep the rejects and warnings of ``out`` for the items ``indexes`` (each reset
    first); ``line_of(line_no)`` gives the item index and the field prefix (``lines[2].``)."""
    for i in indexes:
        staged[i] = []
    for warning, found in ((False, out.rejects), (True, out.warnings)):
        for r in found:
            index, prefix = line_of(r.line_no)
            name = prefix + r.field if r.field else prefix.rstrip(".") or None
            staged.setdefault(index, []).append((name, item_reason(r.reason), r.value, warning))


def apply_rejects(staged: Staged, results: dict[int, ItemResult]) -> None:
    """Copy the staged rejects and warnings onto the items' results."""
    for index, rejects in staged.items():
        for name, reason, value, warning in rejects:
            if warning:
                results[index].warn(name, reason, value)
            else:
                results[index].reject(name, reason, value)


def refused_by_database(exc: DBAPIError) -> bool:
    """Whether ``exc`` is the database refusing the data written, rather than a failing
    statement or connection: a constraint (SQLSTATE class 23: a key a concurrent writer
    inserted, a CHECK), a value (22: out of range, too long) or a rule of its own (P0: a
    trigger's ``RAISE EXCEPTION``). SQLite reports constraints and a trigger's ``RAISE``
    as IntegrityError."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    state = str(getattr(exc.orig, "sqlstate", None) or "")
    return state[:2] in ("22", "23", "P0")


@dataclass
class Savepoints:
    """Run a write over many items in one savepoint; when the database refuses it
    (:func:`refused_by_database`) run it again item by item, each in its own savepoint, so
    one bad item cannot undo the others: ``failed`` holds the reason of each item refused."""

    session: Session
    failed: dict[int, str] = field(default_factory=dict)

    def run(self, indexes: list[int], write: Callable[[list[int]], None]) -> None:
        if not indexes:
            return
        sp = self.session.begin_nested()
        try:
            write(indexes)
        except DBAPIError as exc:
            if not refused_by_database(exc):
                raise
            sp.rollback()
        else:
            sp.commit()
            return
        for index in indexes:
            one = self.session.begin_nested()
            try:
                write([index])
            except DBAPIError as exc:
                if not refused_by_database(exc):
                    raise
                one.rollback()
                self.failed[index] = str(getattr(exc, "orig", exc)).splitlines()[0][:300]
            else:
                one.commit()


def bulk_of(session: Session) -> BulkWriter:
    """Driver-level statements on the session's connection (inside its transaction)."""
    return writer_for(session.connection())
