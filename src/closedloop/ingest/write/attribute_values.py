"""Attribute values in long format: one row per (person, attribute, value), the attribute
named by its code or a label in any language. The row replaces the person's values of that
attribute unless they are the same; unknown persons and attributes reject the row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from closedloop.contacts.models import AttributeChoice, AttributeDefinition
from closedloop.db.bulk import BulkWriter, Row
from closedloop.ingest.read.base import Row as ReadRow
from closedloop.ingest.validate import convert
from closedloop.ingest.validate.context import ChunkResult, Context
from closedloop.ingest.validate.convert import AttributeDef
from closedloop.ingest.write.attributes import canon_value
from closedloop.ingest.write.links import people_of, read_rows, unknown
from closedloop.ingest.write.persons.plan import jsonable
from closedloop.ingest.write.records import record_changes


class AttributeValues:
    """One attribute value per row (long format): person, attribute (code or label), value."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.catalogue: dict[str, AttributeDef] | None = None

    def _load(self, bulk: BulkWriter) -> dict[str, AttributeDef]:
        out: dict[str, AttributeDef] = {}
        conn = bulk.conn
        for did, code, typ, labels in conn.execute(
            select(
                AttributeDefinition.id,
                AttributeDefinition.code,
                AttributeDefinition.type,
                AttributeDefinition.labels,
            )
        ):
            attr = AttributeDef(code=code, type=typ, id=did, label=code)
            out[convert.choice_key(code)] = attr
            for label in (labels or {}).values():
                out.setdefault(convert.choice_key(label), attr)
        for did, cid, code, labels in conn.execute(
            select(
                AttributeChoice.definition_id,
                AttributeChoice.id,
                AttributeChoice.code,
                AttributeChoice.labels,
            )
        ):
            for attr in {id(a): a for a in out.values() if a.id == did}.values():
                attr.choice_ids[code] = cid
                attr.choice_keys[convert.choice_key(code)] = code
                for label in (labels or {}).values():
                    attr.choice_keys.setdefault(convert.choice_key(label), code)
        return out

    def process(self, bulk: BulkWriter, rows: list[ReadRow], out: ChunkResult) -> None:
        ctx = self.ctx
        if self.catalogue is None:
            self.catalogue = self._load(bulk)
        read = read_rows(ctx, rows, out)
        people = people_of(bulk, ctx, read, ("person_external_id",))
        changes: list[dict[str, Any]] = []
        seen: dict[tuple[int, int], int] = {}
        for line_no, row in read:
            pid = people.get(row["person_external_id"])
            if pid is None:
                unknown(
                    out, ctx, line_no, "person_external_id", row["person_external_id"], "person"
                )
                continue
            attr = self.catalogue.get(convert.choice_key(row["attribute"]))
            if attr is None or attr.id is None:
                out.reject(
                    line_no, "attribute", row["attribute"],
                    f"unknown attribute {row['attribute']!r}: define it in the catalogue first, "
                    "or import it as a column of the persons file with --as-attribute",
                )  # fmt: skip
                continue
            try:
                values = convert.attribute_values(attr, row["value"], ctx)
            except ValueError as exc:
                out.reject(line_no, "value", row["value"], str(exc))
                continue
            if (pid, attr.id) in seen:
                out.reject(
                    line_no, "attribute", row["attribute"],
                    f"duplicate: the same person and attribute as line {seen[(pid, attr.id)]}",
                )  # fmt: skip
                out.add("duplicates")
                continue
            seen[(pid, attr.id)] = line_no
            wanted = _value_rows(attr, values)
            stored = bulk.query(
                "SELECT value_number, value_date, value_bool, value_text, choice_id "
                "FROM attribute_values WHERE definition_id = ? AND person_id = ?",
                [attr.id, pid],
            )
            mine = sorted(tuple(canon_value(v) for v in r) for r in stored)
            theirs = sorted(tuple(canon_value(v) for v in r) for r in wanted)
            if mine == theirs:
                out.add("unchanged")
                continue
            out.add("updated" if stored else "new")
            if ctx.dry_run:
                continue
            bulk.execute(
                "DELETE FROM attribute_values WHERE definition_id = ? AND person_id = ?",
                [attr.id, pid],
            )
            bulk.insert(
                "attribute_values",
                ("definition_id", "person_id", "value_number", "value_date", "value_bool",
                 "value_text", "choice_id", "source_system", "updated_at"),
                [(attr.id, pid, *r, ctx.source, ctx.now) for r in wanted],
            )  # fmt: skip
            changes.append(
                {
                    "entity": "attribute_values",
                    "entity_id": pid,
                    "action": "updated",
                    "data": {
                        "definition_id": attr.id,
                        "code": attr.code,
                        "before": [[jsonable(v) for v in r] for r in stored],
                    },
                }
            )
        if not ctx.dry_run:
            record_changes(bulk, ctx, changes)


def _value_rows(attr: AttributeDef, values: list[Any]) -> list[Row]:
    out: list[Row] = []
    for value in values:
        cols: list[Any] = [None] * 5
        slot = {"number": 0, "date": 1, "boolean": 2, "text": 3}.get(attr.type)
        if slot is None:
            cols[4] = attr.choice_ids[value]
        else:
            cols[slot] = value
        out.append(tuple(cols))
    return out
