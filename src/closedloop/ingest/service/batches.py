"""Import batches: list, read, rejects as CSV, and rollback of a whole batch.

A rollback restores every value the batch changed (from its before-images) and removes every
record it created: persons, organisations, products and orders it created (with what hangs
from them), contact points, identifiers, relationships, consents and order lines it added. It
is a mass delete, so it honours the rule of a person delete
(:mod:`closedloop.ingest.service.history`):
a person it created who has gained history since (orders from elsewhere, communications,
responses, merges, consents recorded since, changes) is kept, and counted. It is refused,
with the reason, when later changes depend on the batch otherwise: an organisation it created
was changed since, or a later import changed what it changed (roll that one back first).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, TypeDecorator, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from closedloop.consent.service import rebuild_current
from closedloop.db.base import Base, utcnow
from closedloop.db.bulk import writer_for
from closedloop.errors import NotFound, Refused
from closedloop.ingest.models import ImportBatch, ImportChange, ImportReject, ValueSource
from closedloop.ingest.service.claims import owner_alive
from closedloop.ingest.service.history import HAS_HISTORY, kept_ids, preview
from closedloop.ingest.validate.context import COUNT_KEYS
from closedloop.ingest.write.attributes import canon_value

#: entity of import_changes → table
TABLES = {
    "person": "persons",
    "organisation": "organisations",
    "product": "products",
    "order": "orders",
    "email": "emails",
    "phone": "phones",
    "address": "addresses",
    "identifier": "identifiers",
    "relationship": "relationships",
    "order_line": "order_lines",
    "consent_event": "consent_events",
    "household": "households",
    "product_category": "product_categories",
}
#: Records a batch creates are found by their import_batch_id (children by cascade).
CREATED_BY_BATCH = (("order", "orders"), ("product", "products"), ("person", "persons"),
                    ("organisation", "organisations"))  # fmt: skip
_VERSIONED = {"persons", "organisations"}


def batch_dict(batch: ImportBatch) -> dict[str, Any]:
    """A batch as JSON-ready data."""
    return {
        "id": batch.id,
        "kind": batch.kind,
        "source": batch.source_system,
        "filename": batch.filename,
        "status": batch.status,
        "dry_run": batch.dry_run,
        "counts": {**dict.fromkeys(COUNT_KEYS, 0), **(batch.counts or {})},
        "rows_done": batch.rows_done,
        "mapping_name": batch.mapping_name,
        "options": dict(batch.options or {}),
        "created_by": batch.created_by,
        "started_at": batch.started_at,
        "finished_at": batch.finished_at,
        "error": batch.error,
        "rolled_back_at": batch.rolled_back_at,
        "rolled_back_by": batch.rolled_back_by,
    }


def list_batches(session: Session, *, limit: int = 50, offset: int = 0) -> list[ImportBatch]:
    """The latest batches first."""
    stmt = select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def get_batch(session: Session, batch_id: int) -> ImportBatch:
    """The batch ``batch_id``; NotFound otherwise."""
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(f"Import batch {batch_id} does not exist.")
    return batch


#: What :func:`rejects` lists: refused rows (``error``) or values left out of kept rows
#: (``warning``).
SEVERITIES = ("error", "warning")


def rejects(
    session: Session,
    batch_id: int,
    *,
    limit: int | None = None,
    offset: int = 0,
    severity: str = "error",
) -> list[ImportReject]:
    """The batch's rejects (``severity="warning"``: its warnings) in file order."""
    stmt = (
        select(ImportReject)
        .where(ImportReject.batch_id == batch_id, ImportReject.severity == severity)
        .order_by(ImportReject.line_no, ImportReject.id)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def reject_count(session: Session, batch_id: int, *, severity: str = "error") -> int:
    """How many rejects (or warnings) the batch has."""
    stmt = select(func.count()).where(
        ImportReject.batch_id == batch_id, ImportReject.severity == severity
    )
    return int(session.scalar(stmt) or 0)


def rejects_csv(session: Session, batch_id: int, *, severity: str = "error") -> str:
    """The rejects (or warnings) as CSV (line, field, value, reason), values neutralised
    for spreadsheets."""
    from closedloop.ingest.service.safe import spreadsheet_safe

    get_batch(session, batch_id)
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["line", "field", "value", "reason"])
    for r in rejects(session, batch_id, severity=severity):
        out.writerow([r.line_no, spreadsheet_safe(r.field), spreadsheet_safe(r.value), r.reason])
    return buf.getvalue()


def _table(name: str) -> Any:
    return Base.metadata.tables[name]


def _typed(table: Any, column: str, value: Any) -> Any:
    """A JSON before-image value back in its column's Python type."""
    if value is None:
        return None
    python_type: Any
    kind = table.c[column].type
    if isinstance(kind, TypeDecorator):  # Money and the like: their stored type says
        kind = kind.impl_instance
    try:
        python_type = kind.python_type
    except NotImplementedError:
        return value
    if python_type is date and isinstance(value, str):
        return date.fromisoformat(value[:10])
    if python_type is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if python_type is Decimal:
        return Decimal(str(value))
    return value


def _conflicts(conn: Connection, batch: ImportBatch, kept: set[int]) -> str | None:
    """Why later work forbids the rollback, or None (``kept``: persons the rollback keeps
    for their history, which nothing else needs to wait for)."""
    touched = conn.execute(
        select(ImportChange.entity, ImportChange.entity_id).where(ImportChange.batch_id == batch.id)
    ).all()
    keys = {(e, i) for e, i in touched}
    for entity, table in CREATED_BY_BATCH:
        ids = conn.execute(
            text(f"SELECT id FROM {table} WHERE import_batch_id = :b"),  # noqa: S608
            {"b": batch.id},
        ).scalars()
        keys |= {(entity, int(i)) for i in ids if entity != "person" or int(i) not in kept}
        if table in _VERSIONED and table != "persons":
            edited = conn.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE import_batch_id = :b AND version > 1"),  # noqa: S608
                {"b": batch.id},
            ).scalar_one()
            if edited:
                return (
                    f"{edited} {table} it created were changed since (by a later import or "
                    "a user); roll back the later imports first, or edit those records by hand"
                )
    if not keys:
        return None
    later = conn.execute(
        select(ImportChange.batch_id, ImportChange.entity, ImportChange.entity_id)
        .join(ImportBatch, ImportBatch.id == ImportChange.batch_id)
        .where(ImportChange.batch_id > batch.id, ImportBatch.status != "rolled_back")
    ).all()
    blocking = sorted({b for b, e, i in later if (e, i) in keys})
    if blocking:
        listed = ", ".join(str(b) for b in blocking[:10])
        return f"later import(s) {listed} changed the same records; roll them back first"
    return None


def _restore(conn: Connection, change: ImportChange) -> int:
    """Put back the before-image of one update; returns how many values were kept because
    they were changed again since."""
    data = change.data or {}
    if change.entity == "attribute_values":
        owner = "person_id"
        conn.execute(
            text(f"DELETE FROM attribute_values WHERE definition_id = :d AND {owner} = :o"),  # noqa: S608
            {"d": data["definition_id"], "o": change.entity_id},
        )
        table = _table("attribute_values")
        cols = ("value_number", "value_date", "value_bool", "value_text", "choice_id")
        for row in data.get("before") or []:
            typed = {c: _typed(table, c, v) for c, v in zip(cols, row, strict=True)}
            conn.execute(
                table.insert().values(
                    definition_id=data["definition_id"], **{owner: change.entity_id}, **typed
                )
            )
        return 0
    name = TABLES.get(change.entity)
    if name is None:
        return 0
    table = _table(name)
    before: dict[str, Any] = data.get("before") or {}
    after: dict[str, Any] = data.get("after") or {}
    current = conn.execute(select(table).where(table.c.id == change.entity_id)).mappings().first()
    if current is None:
        return len(before)
    values: dict[str, Any] = {}
    kept = 0
    for column, old in before.items():
        if column not in table.c:
            continue
        if canon_value(current[column]) != canon_value(_typed(table, column, after.get(column))):
            kept += 1
            continue
        values[column] = _typed(table, column, old)
    if values:
        if "given_name" in values and "given_key" in table.c:
            from closedloop.contacts.normalize import search_key

            values["given_key"] = search_key(values["given_name"])
        if "family_name" in values and "family_key" in table.c:
            from closedloop.contacts.normalize import search_key

            values["family_key"] = search_key(values["family_name"])
        if "version" in table.c:
            values["version"] = table.c.version + 1
        if "updated_at" in table.c:
            values["updated_at"] = utcnow()
        conn.execute(update(table).where(table.c.id == change.entity_id).values(**values))
    return kept


#: rows a batch deleted, kept whole in its before-images: entity → table
REMOVED = {"removed_order_line": "order_lines"}


def _reinsert(conn: Connection, change: ImportChange) -> int:
    """Insert again a row the batch deleted (with its id, unless another row has it now)."""
    name = REMOVED.get(change.entity)
    before: dict[str, Any] = (change.data or {}).get("before") or {}
    if name is None or not before:
        return 0
    table = _table(name)
    values = {c: _typed(table, c, v) for c, v in before.items() if c in table.c}
    taken = conn.execute(select(table.c.id).where(table.c.id == values.get("id"))).first()
    if taken is not None:
        values.pop("id")
    conn.execute(table.insert().values(**values))
    return 1


#: the persons a rollback removes: those the batch created that have no history since
_DELETE_PERSONS = "DELETE FROM persons WHERE id IN (SELECT p.id FROM persons p WHERE {})".format(  # noqa: S608
    "p.import_batch_id = :b AND NOT " + HAS_HISTORY
)


def rollback_batch(engine: Engine, batch_id: int, *, user: str | None = None) -> dict[str, Any]:
    """Undo batch ``batch_id`` as a whole (see the module docstring); returns what was done."""
    with engine.connect() as conn:
        writer_for(conn).begin_write()
        b = Session(bind=conn).get(ImportBatch, batch_id)
        if b is None:
            raise NotFound(f"Import batch {batch_id} does not exist.")
        if b.dry_run:
            raise Refused(f"Batch {batch_id} was a dry run: it changed nothing.")
        if b.status == "rolled_back":
            raise Refused(f"Batch {batch_id} was already rolled back.")
        if b.status == "running" and owner_alive(b.owner, b.heartbeat_at):
            raise Refused(f"Batch {batch_id} is still running.")
        kept = set(kept_ids(conn, batch_id))
        reason = _conflicts(conn, b, kept)
        if reason:
            raise Refused(f"Batch {batch_id} cannot be rolled back: {reason}.")
        planned = preview(conn, batch_id)
        done: dict[str, Any] = {"restored": 0, "kept": 0, "removed": 0}
        changes = list(
            Session(bind=conn).scalars(
                select(ImportChange)
                .where(ImportChange.batch_id == batch_id)
                .order_by(ImportChange.id.desc())
            )
        )
        consent_people: set[int] = set()
        try:
            for change in changes:
                if change.action == "updated":
                    done["kept"] += _restore(conn, change)
                    done["restored"] += 1
                    continue
                if change.action == "deleted":
                    done["restored"] += _reinsert(conn, change)
                    continue
                name = TABLES.get(change.entity)
                if name is None:
                    continue
                if name == "consent_events":
                    pid = conn.execute(
                        text("SELECT person_id FROM consent_events WHERE id = :i"),
                        {"i": change.entity_id},
                    ).scalar()
                    if pid is not None:
                        consent_people.add(int(pid))
                        conn.execute(
                            text("DELETE FROM consent_current WHERE event_id = :i"),
                            {"i": change.entity_id},
                        )
                conn.execute(
                    text(f"DELETE FROM {name} WHERE id = :i"),  # noqa: S608
                    {"i": change.entity_id},
                )
                done["removed"] += 1
            for entity, table in CREATED_BY_BATCH:
                sql = f"DELETE FROM {table} WHERE import_batch_id = :b"  # noqa: S608
                if table == "persons":  # those with history are kept
                    sql = _DELETE_PERSONS
                result = conn.execute(text(sql), {"b": batch_id})
                done[f"{entity}s_removed"] = int(result.rowcount or 0)
                done["removed"] += int(result.rowcount or 0)
            for entity, table in CREATED_BY_BATCH:
                gone = f"entity_id NOT IN (SELECT id FROM {table})"  # noqa: S608
                sql = f"DELETE FROM source_records WHERE entity = :e AND batch_id = :b AND {gone}"  # noqa: S608
                conn.execute(text(sql), {"e": entity, "b": batch_id})
            conn.execute(
                text("UPDATE source_records SET row_hash = NULL WHERE batch_id = :b"),
                {"b": batch_id},
            )
            session = Session(bind=conn)
            for pid in consent_people:
                rebuild_current(session, pid)
            session.flush()
        except IntegrityError as exc:
            conn.rollback()
            raise Refused(
                f"Batch {batch_id} cannot be rolled back: other records still point at what it "
                "created (for instance orders imported later for its persons); roll those "
                "back first."
            ) from exc
        conn.execute(delete(ValueSource).where(ValueSource.batch_id == batch_id))
        done["persons_kept"] = planned["persons_kept"]
        done["kept_because"] = planned["kept_because"]
        done["consents_removed"] = planned["consents_removed"]
        counts = dict(b.counts or {})
        counts["rollback"] = dict(done)
        at = utcnow()
        conn.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id)
            .values(status="rolled_back", rolled_back_at=at, rolled_back_by=user, counts=counts)
        )
        conn.commit()
    done["rolled_back_at"] = at
    return done


def rollback_preview(session: Session, batch_id: int) -> dict[str, Any]:
    """What rolling back batch ``batch_id`` would do, without doing it
    (:func:`closedloop.ingest.service.history.preview`); NotFound for an unknown batch."""
    get_batch(session, batch_id)
    return preview(session.connection(), batch_id)
