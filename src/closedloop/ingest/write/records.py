"""Products, orders and order lines: upserted by (source, external id) like persons.

Orders name their buyer by the person's (or organisation's) external id in the same source;
lines name their order the same way and their product by SKU or external id. A reference to
nothing stored rejects the row ("unknown person 'C-99' from erp"); the rest of the file is
imported. Here: the shared upsert (:class:`Upserter`); products and orders are in
:mod:`closedloop.ingest.write.commerce`, order lines in :mod:`closedloop.ingest.write.lines`, and
relationships, consents and attribute values in :mod:`closedloop.ingest.write.links`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from closedloop.contacts.normalize import clean_text
from closedloop.contacts.validation import control_problem
from closedloop.db.bulk import BulkWriter, Row
from closedloop.ingest.models import ImportChange
from closedloop.ingest.read.base import Row as ReadRow
from closedloop.ingest.read.base import RowProblem
from closedloop.ingest.validate.context import (
    ChunkResult,
    Context,
    formula_problem,
    row_hash,
    row_problem,
)
from closedloop.ingest.write.attributes import canon_value
from closedloop.ingest.write.persons.plan import jsonable

Values = dict[str, Any]


def read_row(
    ctx: Context, line_no: int, values: list[str | None] | RowProblem, out: ChunkResult
) -> Values | None:
    """The row's fields read by type; None (and rejects in ``out``) when any is invalid."""
    if isinstance(values, RowProblem):
        out.reject(line_no, values.field, None, values.reason)
        return None
    problem = row_problem(values, len(ctx.mapping.columns))
    if problem is not None:
        out.reject(line_no, *problem)
        return None
    row: Values = {}
    ok = True
    for name, i, spec, reader in ctx.readers:
        raw = values[i]
        if raw is None:
            continue
        reason = formula_problem(raw)
        if reason is not None:
            out.reject(line_no, name, None, reason)
            ok = False
            continue
        reason = None if raw.isprintable() else control_problem(raw)
        if reason is not None:
            out.reject(line_no, name, raw, reason)
            ok = False
            continue
        try:
            row[name] = reader(spec, raw, ctx) if reader is not None else raw.strip()
        except ValueError as exc:
            out.reject(line_no, name, raw, str(exc))
            ok = False
    if not row:
        out.add("empty")
        return None
    return row if ok else None


def ids_by_key(bulk: BulkWriter, table: str, source: str, keys: list[str]) -> dict[str, int]:
    """external id → id of the records of ``table`` from ``source``."""
    if not keys:
        return {}
    sql = f"SELECT external_id, id FROM {table} WHERE source_system = ? AND external_id {{in}}"  # noqa: S608
    return {r[0]: int(r[1]) for r in bulk.select_in(sql, [source], keys)}


def record_changes(bulk: BulkWriter, ctx: Context, changes: list[dict[str, Any]]) -> None:
    """Write before-images (``import_changes``) and value origins (``value_sources``; none
    for a ``deleted`` record: its values come from nowhere any more)."""
    if not changes:
        return
    for change in changes:
        change["batch_id"] = ctx.batch_id
    bulk.conn.execute(insert(ImportChange), changes)
    sources: list[Row] = []
    for change in changes:
        if change["action"] == "deleted":
            continue
        data = change.get("data") or {}
        for name in data.get("after") or {"*": None}:
            sources.append(
                (change["entity"], change["entity_id"], name, ctx.source, ctx.batch_id, ctx.now)
            )
    bulk.insert(
        "value_sources",
        ("entity", "entity_id", "field", "source_system", "batch_id", "recorded_at"),
        sources,
    )


class Upserter:
    """Rows keyed by (source, external id) with a row hash, as for persons; subclasses say
    how a row becomes the table's columns."""

    table = ""
    entity = ""
    columns: tuple[str, ...] = ()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.mapped = [i for i, t in enumerate(ctx.mapping.columns.values()) if t.kind != "ignore"]

    def key(self, row: Values) -> str | None:
        return row.get("external_id")

    def resolve(self, bulk: BulkWriter, rows: list[tuple[int, Values]], out: ChunkResult) -> None:
        """Turn references into ids (rejecting rows whose reference is unknown)."""

    def to_columns(self, row: Values) -> Values | None:
        return {c: row.get(c) for c in self.columns}

    def process(self, bulk: BulkWriter, rows: list[ReadRow], out: ChunkResult) -> None:
        ctx = self.ctx
        items: list[tuple[int, str, str, Values]] = []
        seen: dict[str, int] = {}
        for line_no, values in rows:
            row = read_row(ctx, line_no, values, out)
            if row is None or isinstance(values, RowProblem):
                continue
            key = clean_text(self.key(row))
            if key is None:
                out.reject(line_no, "external_id", None, "the row has no id")
                continue
            first = seen.get(key) or (ctx.seen.get(f"{self.entity}:{key}") if ctx.dry_run else None)
            if first is not None:
                out.reject(line_no, "external_id", key, f"duplicate: the same id as line {first}")
                out.add("duplicates")
                continue
            seen[key] = line_no
            if ctx.dry_run:
                ctx.seen[f"{self.entity}:{key}"] = line_no
            items.append((line_no, key, row_hash(ctx.salt, [values[i] for i in self.mapped]), row))
        stored = self._lookup(bulk, [k for _, k, _, _ in items])
        todo: list[tuple[int, Values]] = []
        keyed: dict[int, tuple[str, str]] = {}
        marks: list[Row] = []
        for line_no, key, digest, row in items:
            found = stored.get(key)
            if found is not None and found[2] == ctx.batch_id and not ctx.dry_run:
                out.reject(
                    line_no, "external_id", key, f"duplicate: the same id as line {found[3]}"
                )
                out.add("duplicates")
            elif found is not None and found[1] == digest:
                out.add("unchanged")
                marks.append((ctx.batch_id, line_no, self.entity, found[0]))
            else:
                todo.append((line_no, row))
                keyed[line_no] = (key, digest)
        self.resolve(bulk, todo, out)
        todo = [(n, r) for n, r in todo if n not in out.rejected_lines]
        self._write(bulk, todo, keyed, stored, marks, out)

    def _lookup(
        self, bulk: BulkWriter, keys: list[str]
    ) -> dict[str, tuple[int, str | None, Any, Any]]:
        if not keys:
            return {}
        sql = (
            f"SELECT t.external_id, t.id, sr.row_hash, sr.batch_id, sr.line_no "  # noqa: S608
            f"FROM {self.table} t LEFT JOIN source_records sr ON sr.entity = ? "
            "AND sr.entity_id = t.id WHERE t.source_system = ? AND t.external_id {in}"
        )
        rows = bulk.select_in(sql, [self.entity, self.ctx.source], keys)
        return {r[0]: (int(r[1]), r[2], r[3], r[4]) for r in rows}

    def _current(self, bulk: BulkWriter, ids: list[int]) -> dict[int, Values]:
        if not ids:
            return {}
        cols = ", ".join(self.columns)
        sql = f"SELECT id, {cols} FROM {self.table} WHERE id {{in}}"  # noqa: S608
        return {
            int(r[0]): dict(zip(self.columns, r[1:], strict=True))
            for r in bulk.select_in(sql, [], ids)
        }

    def _write(
        self,
        bulk: BulkWriter,
        todo: list[tuple[int, Values]],
        keyed: dict[int, tuple[str, str]],
        stored: dict[str, tuple[int, str | None, Any, Any]],
        marks: list[Row],
        out: ChunkResult,
    ) -> None:
        ctx = self.ctx
        current = self._current(
            bulk, [stored[keyed[n][0]][0] for n, _ in todo if keyed[n][0] in stored]
        )
        inserts: list[tuple[int, str, str, Values]] = []
        updates: list[tuple[int, Values]] = []
        changes: list[dict[str, Any]] = []
        records: list[Row] = []
        for line_no, row in todo:
            key, digest = keyed[line_no]
            cols = self.to_columns(row)
            if cols is None:
                continue
            found = stored.get(key)
            if found is None:
                inserts.append((line_no, key, digest, cols))
                out.add("new")
                continue
            rid = found[0]
            now = current.get(rid, {})
            diff = {
                c: v for c, v in cols.items()
                if v is not None and canon_value(now.get(c)) != canon_value(v)
            }  # fmt: skip
            if diff:
                updates.append((rid, diff))
                changes.append(
                    {
                        "entity": self.entity,
                        "entity_id": rid,
                        "action": "updated",
                        "data": {
                            "before": {c: jsonable(now.get(c)) for c in diff},
                            "after": {c: jsonable(v) for c, v in diff.items()},
                        },
                    }
                )
                out.add("updated")
            else:
                out.add("unchanged")
            records.append(("update", rid, digest, line_no, found[1] is not None))
        if ctx.dry_run:
            return
        if inserts:
            ids = bulk.allocate_ids(self.table, len(inserts))
            names = tuple(inserts[0][3])
            head = ("id", *names, "source_system", "external_id", "import_batch_id", "created_at")
            bulk.insert(
                self.table,
                head,
                [
                    (rid, *cols.values(), ctx.source, key, ctx.batch_id, ctx.now)
                    for rid, (_n, key, _d, cols) in zip(ids, inserts, strict=True)
                ],
            )
            for rid, (line_no, _key, digest, _cols) in zip(ids, inserts, strict=True):
                records.append(("insert", rid, digest, line_no, False))
            self.after_insert(bulk, ids, inserts)
        for rid, diff in updates:
            sets = ", ".join(f"{c} = ?" for c in diff)
            bulk.execute(f"UPDATE {self.table} SET {sets} WHERE id = ?", [*diff.values(), rid])  # noqa: S608
        record_changes(bulk, ctx, changes)
        new_records = [
            (self.entity, rid, digest, ctx.batch_id, line_no)
            for action, rid, digest, line_no, has in records
            if not has
        ]
        bulk.insert(
            "source_records",
            ("entity", "entity_id", "row_hash", "batch_id", "line_no"),
            new_records,
        )
        bulk.executemany(
            "UPDATE source_records SET row_hash = ?, batch_id = ?, line_no = ? "
            "WHERE entity = ? AND entity_id = ?",
            [(d, ctx.batch_id, n, self.entity, rid) for _a, rid, d, n, has in records if has],
        )
        bulk.executemany(
            "UPDATE source_records SET batch_id = ?, line_no = ? "
            "WHERE entity = ? AND entity_id = ?",
            marks,
        )

    def after_insert(
        self, bulk: BulkWriter, ids: list[int], inserts: list[tuple[int, str, str, Values]]
    ) -> None:
        """Hook for rows that come with children."""
