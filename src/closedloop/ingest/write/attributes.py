"""Columns that become catalogue attributes or extra identifiers of the imported records.

``--as-attribute COL[:TYPE[:GROUP]]`` creates the attribute (code from the column name, label
the column's header, type given or inferred from the values) when it does not exist; new
values of a choice attribute named that way become new choices. A column whose header is an
existing attribute's code or label maps to it by itself, and then an unknown choice is
refused. ``--as-identifier COL[:SCHEME]`` stores the value in ``identifiers``; a value that
other rows or persons hold too is stored all the same (shared identifiers are evidence of one
person: identity resolution links those records, ``closedloop dedupe run``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select

from closedloop.contacts.models import AttributeChoice, AttributeDefinition, Identifier
from closedloop.db.bulk import BulkWriter, Row
from closedloop.errors import ValidationFailed
from closedloop.ingest.map.mapping import Catalogue, Mapping
from closedloop.ingest.validate.context import Context
from closedloop.ingest.validate.convert import AttributeDef, choice_key

if TYPE_CHECKING:
    from closedloop.ingest.validate.prepare import PartyRow

VALUE_COLUMNS = ("value_number", "value_date", "value_bool", "value_text", "choice_id")


def catalogue(conn: Connection) -> Catalogue:
    """The attributes (code → (type, labels)) and identifier schemes already stored."""
    defs = {
        code: (typ, dict(labels or {}))
        for code, typ, labels in conn.execute(
            select(AttributeDefinition.code, AttributeDefinition.type, AttributeDefinition.labels)
        )
    }
    schemes = tuple(r[0] for r in conn.execute(select(Identifier.scheme).distinct()))
    return Catalogue(attributes=defs, schemes=schemes)


def load(
    conn: Connection,
    mapping: Mapping,
    *,
    applies_to: str,
    open_codes: set[str],
    types: dict[str, str],
    locale: str,
    create: bool,
) -> dict[str, AttributeDef]:
    """The attributes the mapping names, created when new (unless ``create`` is false)."""
    out: dict[str, AttributeDef] = {}
    errors: list[dict[str, Any]] = []
    for header, target in mapping.columns.items():
        if target.kind != "attribute":
            continue
        row = conn.execute(
            select(AttributeDefinition.id, AttributeDefinition.type).where(
                AttributeDefinition.code == target.name
            )
        ).first()
        wanted = target.type or types.get(target.name) or "text"
        if row is not None:
            def_id, def_type = row
            if target.type and target.type != def_type:
                errors.append(
                    {
                        "field": header,
                        "message": f"attribute {target.name} exists with type "
                        f"{def_type}, not {target.type}",
                    }
                )
                continue
            attr = AttributeDef(
                code=target.name,
                type=def_type,
                id=def_id,
                label=header,
                open=target.name in open_codes,
            )
            for choice_id, code, labels in conn.execute(
                select(AttributeChoice.id, AttributeChoice.code, AttributeChoice.labels).where(
                    AttributeChoice.definition_id == def_id
                )
            ):
                attr.choice_ids[code] = choice_id
                attr.choice_keys[choice_key(code)] = code
                for label in (labels or {}).values():
                    attr.choice_keys.setdefault(choice_key(label), code)
            out[target.name] = attr
            continue
        new_id = None
        if create:
            new_id = conn.execute(
                insert(AttributeDefinition).returning(AttributeDefinition.id),
                {
                    "code": target.name,
                    "labels": {locale: header[:200]},
                    "group": "demographic" if applies_to == "person" else "firmographic",
                    "type": wanted,
                    "applies_to": applies_to,
                },
            ).scalar_one()
        out[target.name] = AttributeDef(
            code=target.name, type=wanted, id=new_id, label=header, open=True
        )
    if errors:
        raise ValidationFailed("Some attribute columns do not fit the catalogue.", errors=errors)
    return out


def ensure_choices(bulk: BulkWriter, ctx: Context) -> None:
    """Store the choices that values of this chunk added to open attributes."""
    for attr in ctx.attributes.values():
        pending = [code for code, cid in attr.choice_ids.items() if cid is None]
        if not pending or attr.id is None:
            continue
        top = bulk.query(
            "SELECT COALESCE(MAX(position), 0) FROM attribute_choices WHERE definition_id = ?",
            [attr.id],
        )[0][0]
        ids = bulk.allocate_ids("attribute_choices", len(pending))
        rows = []
        for n, (cid, code) in enumerate(zip(ids, pending, strict=True), start=1):
            label = attr.new_labels.get(code, code)
            rows.append((cid, attr.id, code, n + int(top or 0), label))
            attr.choice_ids[code] = cid
        bulk.executemany(
            "INSERT INTO attribute_choices (id, definition_id, code, position, labels) "  # noqa: S608
            f"VALUES (?, ?, ?, ?, {bulk.json_object_sql()})",
            [(cid, did, code, pos, ctx.locale, label) for cid, did, code, pos, label in rows],
        )


def value_rows(ctx: Context, owner_id: int, items: list[tuple[str, list[Any]]]) -> list[Row]:
    """attribute_values rows (definition, owner, value columns…) of one record."""
    out: list[Row] = []
    for code, values in items:
        attr = ctx.attributes[code]
        for value in values:
            cols: list[Any] = [None, None, None, None, None]
            if attr.type == "number":
                cols[0] = value
            elif attr.type == "date":
                cols[1] = value
            elif attr.type == "boolean":
                cols[2] = value
            elif attr.type == "text":
                cols[3] = value
            else:
                cols[4] = attr.choice_ids[value]
            out.append((attr.id, owner_id, *cols, ctx.source, ctx.now))
    return out


def insert_new(
    bulk: BulkWriter, ctx: Context, owner: str, rows: Sequence[tuple[int, PartyRow]]
) -> None:
    """Attributes and identifiers of newly created records."""
    ensure_choices(bulk, ctx)
    values: list[Row] = []
    idents: list[Row] = []
    for owner_id, row in rows:
        values.extend(value_rows(ctx, owner_id, row.attributes))
        # Two columns of one scheme may repeat a value; a person holds it once.
        for scheme, value in dict.fromkeys(row.identifiers):
            idents.append((owner_id, scheme, value, ctx.source, ctx.now))
    bulk.insert(
        "attribute_values",
        ("definition_id", owner, *VALUE_COLUMNS, "source_system", "updated_at"),
        values,
    )
    bulk.insert(
        "identifiers", ("person_id", "scheme", "value", "source_system", "created_at"), idents
    )


def canon_value(value: Any) -> Any:
    """A stored or parsed value in one comparable form (drivers return dates as text on
    SQLite and objects on PostgreSQL, decimals as floats or Decimals)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize()
    if isinstance(value, datetime):  # as SQLite stores it (UTC, no zone): text compares equal
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
