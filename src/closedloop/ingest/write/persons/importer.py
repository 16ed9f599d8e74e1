"""Persons and organisations: the import's hot path, one chunk at a time in bulk statements.

For each chunk: rows are keyed by (source, external id) and hashed; one query finds the stored
records and the hash of the row each source last sent; unchanged rows are only marked (no
validation); the others are validated (:mod:`closedloop.ingest.validate.prepare`), new ones inserted
with their contact points, attributes and identifiers, changed ones updated field by field
(:mod:`closedloop.ingest.write.persons.update`). A key seen twice in one file keeps its first row
and
rejects the others.
"""

from __future__ import annotations

from typing import Any

from closedloop.contacts.normalize import clean_text
from closedloop.db.bulk import BulkWriter, Row
from closedloop.ingest.read.base import Row as ReadRow
from closedloop.ingest.read.base import RowProblem
from closedloop.ingest.read.blob import Blob
from closedloop.ingest.validate.context import (
    ChunkResult,
    Context,
    row_problem,
    row_text,
    text_hash,
)
from closedloop.ingest.validate.prepare import (
    ADDRESS_COLUMNS,
    NEW_DEFAULTS,
    TYPED_COLUMNS,
    PartyRow,
    prepare_party,
)
from closedloop.ingest.write import attributes as attrs
from closedloop.ingest.write.fresh import Fresh, decode
from closedloop.ingest.write.fresh import insert as insert_fresh
from closedloop.ingest.write.persons.classify import (
    EMAIL_COLUMNS,
    ORGANISATIONS,
    PERSONS,
    PHONE_COLUMNS,
    Item,
    Stored,
    Work,
    lookup,
)
from closedloop.ingest.write.persons.update import apply_updates


class PartyImporter:
    """Import persons or organisations (the kind of ``ctx``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.spec = PERSONS if ctx.kind.name == "persons" else ORGANISATIONS
        self.width = len(ctx.mapping.columns)
        self.mapped = [i for i, t in enumerate(ctx.mapping.columns.values()) if t.kind != "ignore"]
        self.key_index = ctx.fields.get("external_id")

    # --- classification ---------------------------------------------------------------

    def keyed(
        self, rows: list[ReadRow], out: ChunkResult, texts: list[str] | None = None
    ) -> list[Item]:
        """(line, key, hash, values) of each readable row; duplicates in the chunk rejected.
        ``texts``, when given and no column is ignored, gets each kept row's values joined
        as hashed (:func:`~closedloop.ingest.validate.context.row_text`)."""
        ctx = self.ctx
        keyed = []
        first: dict[str, tuple[int, str]] = {}
        width, key_index = self.width, self.key_index
        every = self.mapped == list(range(width))  # no ignored column: hash the row as is
        for line_no, values in rows:
            if isinstance(values, RowProblem):
                out.reject(line_no, values.field, None, values.reason)
                continue
            if len(values) > width:
                problem = row_problem(values, width)
                if problem is not None:
                    out.reject(line_no, *problem)
                    continue
            mapped = values if every else [values[i] for i in self.mapped]
            if mapped.count(None) == len(mapped):
                out.add("empty")
                continue
            text = row_text(mapped)
            digest = text_hash(ctx.salt, text)
            raw_key = values[key_index] if key_index is not None else None
            key = raw_key if raw_key is not None and _clean(raw_key) else clean_text(raw_key)
            if key is None:
                # No id: the row itself is its key, so the same row imported twice is known.
                key = "row:" + digest[:24]
            elif len(key) > 128:
                out.reject(line_no, "external_id", key, "too long (at most 128 characters)")
                continue
            seen = first.get(key) or self._seen_in_dry_run(key)
            if seen is not None:
                _duplicate(out, line_no, key, seen, digest)
                continue
            first[key] = (line_no, digest)
            if ctx.dry_run:
                ctx.seen[key] = line_no
            keyed.append((line_no, key, digest, values))
            if texts is not None and every:
                texts.append(text)
        return keyed

    def _seen_in_dry_run(self, key: str) -> tuple[int, str] | None:
        line = self.ctx.seen.get(key) if self.ctx.dry_run else None
        return (line, "") if line is not None else None

    def classify(self, bulk: BulkWriter, rows: list[ReadRow], out: ChunkResult) -> Work:
        """Key and hash the rows, look them up, and set aside those unchanged since the last
        import of this source (they need no validation)."""
        return self.sort(bulk, self.keyed(rows, out))

    def sort(self, bulk: BulkWriter, keyed: list[Item], packed: Blob | None = None) -> Work:
        """Look keyed rows up and set aside those unchanged since the last import of this
        source. ``packed``: the rows' values, left out of ``keyed``."""
        stored = lookup(self.ctx, bulk, self.spec, [item[1] for item in keyed])
        work = Work(stored=stored, blob=packed, keyed=keyed)
        same, todo, positions = work.same, work.todo, work.positions
        for n, item in enumerate(keyed):
            found = stored.get(item[1])
            if found is not None and found.row_hash == item[2]:
                same.append(item)
            else:
                todo.append(item)
                positions.append(n)
        return work

    def validate(self, items: list[Item], out: ChunkResult) -> list[PartyRow]:
        """Validate rows (pure: runs in a worker process for big files)."""
        ctx = self.ctx
        return [
            p
            for line_no, key, digest, values in items
            if (p := prepare_party(ctx, line_no, key, digest, values, out)) is not None
        ]

    def process(self, bulk: BulkWriter, rows: list[ReadRow], out: ChunkResult) -> None:
        """Import one chunk in this process (inside the chunk's write transaction)."""
        work = self.classify(bulk, rows, out)
        self.write(bulk, work, self.validate(work.todo, out), out, relookup=False)

    def write(
        self,
        bulk: BulkWriter,
        work: Work,
        prepared: list[PartyRow],
        out: ChunkResult,
        *,
        relookup: bool,
        created: Fresh | None = None,
    ) -> None:
        """Store a classified and validated chunk; with ``relookup`` the keys are looked up
        again first (the chunk was classified before the previous chunk was written).
        ``created``: the chunk's new rows as a database image
        (:mod:`closedloop.ingest.write.fresh`)."""
        ctx, spec = self.ctx, self.spec
        stored = work.stored
        if created is not None and relookup:  # some may be stored by now: the ordinary path
            prepared, created = prepared + decode(created, spec.columns), None
        if relookup:
            keys = [item[1] for item in work.same] + [p.key for p in prepared]
            stored = lookup(ctx, bulk, spec, keys)
        marks: list[Row] = []
        late: list[Item] = []
        for item in work.same:
            line_no, key, digest = item[0], item[1], item[2]
            found = stored.get(key)
            if found is not None and found.batch_id == ctx.batch_id and not ctx.dry_run:
                _duplicate(out, line_no, key, (found.line_no or 0, found.row_hash or ""), digest)
            elif found is not None and found.row_hash == digest:
                out.add("unchanged")
                if found.has_record:
                    marks.append((line_no, found.id))
            else:
                late.append(item)
        if late:  # changed by another import since the chunk was classified
            prepared = prepared + self.validate(work.with_values(late), out)
        fresh: list[PartyRow] = []
        for row in prepared:
            found = stored.get(row.key)
            if found is not None and found.batch_id == ctx.batch_id and not ctx.dry_run:
                _duplicate(
                    out, row.line_no, row.key, (found.line_no or 0, found.row_hash or ""),
                    row.row_hash,
                )  # fmt: skip
            else:
                fresh.append(row)
        new = [p for p in fresh if p.key not in stored]
        old = [p.unpack(spec.columns) for p in fresh if p.key in stored]
        out.add("new", len(new))
        changed = apply_updates(bulk, ctx, spec, old, stored, out)
        if ctx.dry_run:
            return
        if new:
            self._insert(bulk, new)
            out.touched.extend(p.id for p in new if p.id is not None)
        if created is not None and created.count:
            out.add("new", created.count)
            out.touched.extend(self._insert_fresh(bulk, created))
        out.touched.extend(sorted(changed))
        self._source_records(bulk, new, old, stored, marks)

    # --- writes ----------------------------------------------------------------------------

    def _insert(self, bulk: BulkWriter, rows: list[PartyRow]) -> None:
        ctx, spec = self.ctx, self.spec
        ids = bulk.allocate_ids(spec.table, len(rows))
        cols = spec.columns
        typed = [i for i, c in enumerate(cols) if c in TYPED_COLUMNS]
        defaults = [(cols.index(c), v) for c, v in NEW_DEFAULTS.items() if c in cols]
        table_rows: list[Row] = []
        emails: list[Row] = []
        phones: list[Row] = []
        addresses: list[Row] = []
        param = bulk.param
        for pid, row in zip(ids, rows, strict=True):
            values = row.column_values(cols)
            if typed or defaults:
                mutable = list(values)
                for i in typed:
                    mutable[i] = param(mutable[i])
                for i, value in defaults:
                    if mutable[i] is None:
                        mutable[i] = value
                values = tuple(mutable)
            table_rows.append((pid, *values, row.key))
            for n, (address, key) in enumerate(row.emails):
                emails.append((pid, n == 0, address, key))
            for n, (e164, raw, line_type) in enumerate(row.phones):
                phones.append((pid, n == 0, e164, raw, line_type))
            a = row.address_row()
            if a is not None:
                addresses.append((pid, *a))
            row.id = pid
        constants, point = self._constants()
        bulk.insert(
            spec.table, ("id", *cols, "external_id"), table_rows, converted=True,
            constants=constants,
        )  # fmt: skip
        owner = spec.owner
        for table, columns, points in (
            ("emails", EMAIL_COLUMNS, emails),
            ("phones", PHONE_COLUMNS, phones),
        ):
            bulk.insert(table, (owner, "is_primary", *columns), points, converted=True,
                        constants=point)  # fmt: skip
        bulk.insert("addresses", (owner, *ADDRESS_COLUMNS), addresses, converted=True,
                    constants={**point, "is_primary": True})  # fmt: skip
        if ctx.extensions:
            attrs.insert_new(bulk, ctx, spec.owner, list(zip(ids, rows, strict=True)))

    def _constants(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """What every new row of a chunk shares, for the party table and its contact points
        (written into the statements, not bound per row)."""
        ctx = self.ctx
        stamp = {"source_system": ctx.source, "created_at": ctx.now, "updated_at": ctx.now}
        party = {"version": 1, "import_batch_id": ctx.batch_id, **stamp}
        return party, {"kind": self.spec.contact_kind, "is_valid": True, **stamp}

    def _insert_fresh(self, bulk: BulkWriter, created: Fresh) -> list[int]:
        """Insert new rows sent as a database image, with their source records; their ids."""
        constants, point = self._constants()
        spec = self.spec
        return insert_fresh(
            bulk, created, table=spec.table, owner=spec.owner, columns=spec.columns,
            constants=constants, point=point, entity=spec.entity, batch_id=self.ctx.batch_id,
        )  # fmt: skip

    def _source_records(
        self,
        bulk: BulkWriter,
        new: list[PartyRow],
        old: list[PartyRow],
        stored: dict[str, Stored],
        marks: list[Row],
    ) -> None:
        ctx, entity = self.ctx, self.spec.entity
        inserts: list[Row] = [(row.id, row.row_hash, row.line_no) for row in new]
        changes: list[Row] = []
        for row in old:
            found = stored[row.key]
            if found.has_record:
                changes.append((row.row_hash, row.line_no, found.id))
            else:
                inserts.append((found.id, row.row_hash, row.line_no))
        # entity and batch are the chunk's: written into the statements, not bound per row
        same = {"entity": entity, "batch_id": ctx.batch_id}
        bulk.insert(
            "source_records", ("entity_id", "row_hash", "line_no"), inserts,
            converted=True, constants=same,
        )  # fmt: skip
        where = f"entity = {bulk.literal(entity)} AND entity_id = ?"
        batch = f"batch_id = {int(ctx.batch_id)}"
        bulk.executemany(
            f"UPDATE source_records SET row_hash = ?, {batch}, line_no = ? WHERE {where}",  # noqa: S608
            changes,
            converted=True,
        )
        bulk.executemany(
            f"UPDATE source_records SET {batch}, line_no = ? WHERE {where}",  # noqa: S608
            marks,
            converted=True,
        )


def _clean(text: str) -> bool:
    """Whether ``clean_text`` would leave ``text`` as it is (most keys: a quick test)."""
    return (
        text.isprintable() and text != "" and text[0] != " " and text[-1] != " "
        and "  " not in text
    )  # fmt: skip


def _duplicate(
    out: ChunkResult, line_no: int, key: str, first: tuple[int, str], digest: str
) -> None:
    first_line, first_digest = first
    same = " (an identical row)" if first_digest == digest else ""
    where = f"line {first_line}" if first_line else "an earlier line"
    out.reject(
        line_no,
        "external_id",
        key,
        f"duplicate: the same id as {where}{same}; the first one is kept",
    )
    out.add("duplicates")
