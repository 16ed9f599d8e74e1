"""Relationships, consents and attribute values: rows that point at persons by external id.

None of them has an id of its own in the source: a relationship is known by (person, kind,
target), a consent event by (person, channel, purpose, state, time), an attribute value by
(person, attribute). Importing the same file again therefore adds nothing. Consents are in
:mod:`closedloop.ingest.write.consents`, attribute values in
:mod:`closedloop.ingest.write.attribute_values`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from closedloop.contacts.models import Household
from closedloop.db.bulk import BulkWriter
from closedloop.ingest.read.base import Row as ReadRow
from closedloop.ingest.validate.context import ChunkResult, Context
from closedloop.ingest.write.attributes import canon_value
from closedloop.ingest.write.persons.plan import jsonable
from closedloop.ingest.write.records import Values, ids_by_key, read_row, record_changes


def people_of(
    bulk: BulkWriter, ctx: Context, rows: list[tuple[int, Values]], fields: tuple[str, ...]
) -> dict[str, int]:
    """The ids of the persons the rows' ``fields`` name (external ids of the import's source)."""
    keys = [r[f] for _, r in rows for f in fields if r.get(f)]
    return ids_by_key(bulk, "persons", ctx.source, keys)


def unknown(out: ChunkResult, ctx: Context, line_no: int, field: str, ref: str, what: str) -> None:
    """Reject a row that names a ``what`` the source has not imported."""
    out.reject(
        line_no, field, ref, f"unknown {what} {ref!r} (no {what} with this id from {ctx.source})"
    )


def read_rows(ctx: Context, rows: list[ReadRow], out: ChunkResult) -> list[tuple[int, Values]]:
    """The rows read and checked (:func:`~closedloop.ingest.write.records.read_row`), with their
    lines."""
    read = []
    for line_no, values in rows:
        row = read_row(ctx, line_no, values, out)
        if row is not None:
            read.append((line_no, row))
    return read


class Relationships:
    """Typed links from a person to a person, an organisation or a household (by name)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def process(self, bulk: BulkWriter, rows: list[ReadRow], out: ChunkResult) -> None:
        ctx = self.ctx
        read = read_rows(ctx, rows, out)
        people = people_of(bulk, ctx, read, ("person_external_id", "related_person_external_id"))
        orgs = ids_by_key(
            bulk,
            "organisations",
            ctx.source,
            [r["organisation_external_id"] for _, r in read if r.get("organisation_external_id")],
        )
        households = {
            name: int(hid) for hid, name in bulk.query("SELECT id, name FROM households")
        } if any(r.get("household") for _, r in read) else {}  # fmt: skip
        changes: list[dict[str, Any]] = []
        for line_no, row in read:
            pid = people.get(row["person_external_id"])
            if pid is None:
                unknown(
                    out, ctx, line_no, "person_external_id", row["person_external_id"], "person"
                )
                continue
            target: tuple[str, int | None] | None = None
            if row.get("related_person_external_id"):
                ref = row["related_person_external_id"]
                target = ("related_person_id", people.get(ref))
                if target[1] is None:
                    unknown(out, ctx, line_no, "related_person_external_id", ref, "person")
                    continue
            elif row.get("organisation_external_id"):
                ref = row["organisation_external_id"]
                target = ("organisation_id", orgs.get(ref))
                if target[1] is None:
                    unknown(out, ctx, line_no, "organisation_external_id", ref, "organisation")
                    continue
            elif row.get("household"):
                name = row["household"]
                hid = households.get(name)
                if hid is None and not ctx.dry_run:
                    hid = bulk.conn.execute(
                        insert(Household).returning(Household.id), {"name": name}
                    ).scalar_one()
                    households[name] = hid
                    changes.append(
                        {"entity": "household", "entity_id": hid, "action": "created", "data": None}
                    )
                target = ("household_id", hid)
            if target is None:
                out.reject(line_no, "kind", None, "the relationship names no other party")
                continue
            column, target_id = target
            found = (
                bulk.query(
                    f"SELECT id, role, starts_on, ends_on FROM relationships WHERE person_id = ? "  # noqa: S608
                    f"AND kind = ? AND {column} = ?",
                    [pid, row["kind"], target_id],
                )
                if target_id is not None
                else []
            )
            values = {k: row.get(k) for k in ("role", "starts_on", "ends_on")}
            if not found:
                out.add("new")
                if ctx.dry_run:
                    continue
                rid = bulk.allocate_ids("relationships", 1)[0]
                bulk.execute(
                    f"INSERT INTO relationships (id, person_id, kind, {column}, role, starts_on, "  # noqa: S608
                    "ends_on, source_system, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [rid, pid, row["kind"], target_id, *values.values(), ctx.source, ctx.now],
                )
                changes.append(
                    {"entity": "relationship", "entity_id": rid, "action": "created", "data": None}
                )
                continue
            rid, *stored = found[0]
            before = dict(zip(values, stored, strict=True))
            diff = {
                k: v for k, v in values.items()
                if v is not None and canon_value(before[k]) != canon_value(v)
            }  # fmt: skip
            if not diff:
                out.add("unchanged")
                continue
            out.add("updated")
            if ctx.dry_run:
                continue
            sets = ", ".join(f"{k} = ?" for k in diff)
            bulk.execute(f"UPDATE relationships SET {sets} WHERE id = ?", [*diff.values(), rid])  # noqa: S608
            changes.append(
                {
                    "entity": "relationship",
                    "entity_id": rid,
                    "action": "updated",
                    "data": {
                        "before": {k: jsonable(before[k]) for k in diff},
                        "after": {k: jsonable(v) for k, v in diff.items()},
                    },
                }
            )
        if not ctx.dry_run:
            record_changes(bulk, ctx, changes)
