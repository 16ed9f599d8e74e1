"""What a chunk's updates of stored persons and organisations will write (:class:`Plan`),
written with one statement per kind of change (:func:`write_plan`), each change with its
before-image (``import_changes``) and origin (``value_sources``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert

from closedloop.db.bulk import BulkWriter, Row
from closedloop.ingest.models import ImportChange
from closedloop.ingest.validate.context import Context
from closedloop.ingest.validate.prepare import ADDRESS_COLUMNS
from closedloop.ingest.write import attributes as attrs

if TYPE_CHECKING:
    from closedloop.ingest.write.persons.classify import PartySpec


def jsonable(value: Any) -> Any:
    """A value as it can be kept in a JSON before-image."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@dataclass
class Plan:
    """Everything one chunk's updates will write."""

    fields: dict[tuple[str, ...], list[Row]] = field(default_factory=dict)
    touched: list[int] = field(default_factory=list)
    email_updates: list[Row] = field(default_factory=list)
    email_inserts: list[Row] = field(default_factory=list)
    phone_updates: list[Row] = field(default_factory=list)
    phone_inserts: list[Row] = field(default_factory=list)
    address_updates: list[Row] = field(default_factory=list)
    address_inserts: list[Row] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    sources: list[Row] = field(default_factory=list)
    attribute_deletes: list[Row] = field(default_factory=list)
    attribute_inserts: list[tuple[int, list[tuple[str, list[Any]]]]] = field(default_factory=list)
    identifier_updates: list[Row] = field(default_factory=list)
    identifier_inserts: list[Row] = field(default_factory=list)

    def change(
        self, entity: str, entity_id: int, action: str, data: dict[str, Any] | None = None
    ) -> None:
        self.changes.append(
            {"entity": entity, "entity_id": entity_id, "action": action, "data": data}
        )


def _insert_with_ids(
    bulk: BulkWriter, table: str, columns: tuple[str, ...], rows: list[Row], plan: Plan, entity: str
) -> None:
    if not rows:
        return
    ids = bulk.allocate_ids(table, len(rows))
    bulk.insert(table, ("id", *columns), [(i, *r) for i, r in zip(ids, rows, strict=True)])
    for i in ids:
        plan.change(entity, i, "created")


def write_plan(bulk: BulkWriter, ctx: Context, spec: PartySpec, plan: Plan) -> None:
    """Write everything ``plan`` holds (in the caller's transaction)."""
    owner = spec.owner
    for names, rows in plan.fields.items():
        sets = ", ".join(f"{n} = ?" for n in names)
        bulk.executemany(f"UPDATE {spec.table} SET {sets} WHERE id = ?", rows)  # noqa: S608
    bulk.executemany(
        f"UPDATE {spec.table} SET version = version + 1, updated_at = ? WHERE id = ?",  # noqa: S608
        [(ctx.now, pid) for pid in plan.touched],
    )
    bulk.executemany(
        "UPDATE emails SET address = ?, address_key = ?, updated_at = ? WHERE id = ?",
        plan.email_updates,
    )
    bulk.executemany(
        "UPDATE phones SET e164 = ?, raw = ?, line_type = ?, updated_at = ? WHERE id = ?",
        plan.phone_updates,
    )
    bulk.executemany(
        f"UPDATE addresses SET {', '.join(f'{c} = ?' for c in ADDRESS_COLUMNS)}, updated_at = ? "  # noqa: S608
        "WHERE id = ?",
        plan.address_updates,
    )
    point = (owner, "kind", "is_primary", "is_valid", "source_system", "created_at", "updated_at")
    _insert_with_ids(
        bulk, "emails", (*point, "address", "address_key"), plan.email_inserts, plan, "email"
    )
    _insert_with_ids(
        bulk, "phones", (*point, "e164", "raw", "line_type"), plan.phone_inserts, plan, "phone"
    )
    _insert_with_ids(
        bulk, "addresses", (*point, *ADDRESS_COLUMNS), plan.address_inserts, plan, "address"
    )
    if plan.attribute_deletes:
        bulk.executemany(
            f"DELETE FROM attribute_values WHERE definition_id = ? AND {owner} = ?",  # noqa: S608
            plan.attribute_deletes,
        )
        attrs.ensure_choices(bulk, ctx)
        values: list[Row] = []
        for pid, items in plan.attribute_inserts:
            values.extend(attrs.value_rows(ctx, pid, items))
        bulk.insert(
            "attribute_values",
            ("definition_id", owner, *attrs.VALUE_COLUMNS, "source_system", "updated_at"),
            values,
        )
    bulk.executemany("UPDATE identifiers SET value = ? WHERE id = ?", plan.identifier_updates)
    _insert_with_ids(
        bulk,
        "identifiers",
        ("person_id", "scheme", "value", "source_system", "created_at"),
        plan.identifier_inserts,
        plan,
        "identifier",
    )
    if plan.changes:
        for change in plan.changes:
            change["batch_id"] = ctx.batch_id
        bulk.conn.execute(insert(ImportChange), plan.changes)
    bulk.insert(
        "value_sources",
        ("entity", "entity_id", "field", "source_system", "batch_id", "recorded_at"),
        plan.sources,
    )
