"""Changed rows of stored persons and organisations: only what differs is written.

Fields are compared with the stored values; an empty cell leaves the stored value alone. A
contact point is matched by value (an email already on the record from any source is kept);
a changed email, phone or address replaces the one this source gave before, else it is added.
Every change keeps its before-image (``import_changes``, for rollback) and its origin
(``value_sources``: entity, id, field, source, batch, time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert

from closedloop.contacts.normalize import search_key
from closedloop.ingest import attributes as attrs
from closedloop.ingest.attributes import canon_value
from closedloop.ingest.bulk import Bulk, Row
from closedloop.ingest.context import ChunkResult, Context
from closedloop.ingest.models import ImportChange
from closedloop.ingest.prepare import PartyRow

if TYPE_CHECKING:
    from closedloop.ingest.party_work import PartySpec, Stored

_ADDRESS = (
    "line1",
    "line2",
    "postal_code",
    "locality",
    "region",
    "country",
    "latitude",
    "longitude",
    "status",
    "status_detail",
)
_PLACE = ("line1", "line2", "postal_code", "locality", "region", "country")
_DERIVED = {"given_name": "given_key", "family_name": "family_key", "name": "name_key"}


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


def _load(
    bulk: Bulk, table: str, columns: tuple[str, ...], where: str, ids: list[int]
) -> list[Row]:
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE {where} {{in}}"  # noqa: S608
    return bulk.select_in(sql, [], ids)


class _State:
    """The stored state of the records a chunk changes."""

    def __init__(self, bulk: Bulk, spec: PartySpec, ids: list[int], ctx: Context) -> None:
        cols = tuple(c for c in spec.columns if not c.endswith("_key"))
        self.fields = {
            r[0]: dict(zip(cols, r[1:], strict=True))
            for r in _load(bulk, spec.table, ("id", *cols), "id", ids)
        }
        owner = spec.owner
        self.points: dict[str, dict[int, list[dict[str, Any]]]] = {}
        for table, columns in (
            ("emails", ("address", "address_key")),
            ("phones", ("e164", "raw", "line_type")),
            ("addresses", _ADDRESS),
        ):
            head = ("id", owner, "source_system", "is_primary", *columns)
            grouped: dict[int, list[dict[str, Any]]] = {}
            for r in _load(bulk, table, head, owner, ids):
                grouped.setdefault(r[1], []).append(dict(zip(head, r, strict=True)))
            self.points[table] = grouped
        self.attributes: dict[tuple[int, int], list[Row]] = {}
        defs = [a.id for a in ctx.attributes.values() if a.id is not None]
        if defs:
            sql = (
                f"SELECT definition_id, {owner}, {', '.join(attrs.VALUE_COLUMNS)} "  # noqa: S608
                f"FROM attribute_values WHERE {owner} {{in}}"
            )
            for r in bulk.select_in(sql, [], ids):
                if r[0] in defs:
                    self.attributes.setdefault((r[1], r[0]), []).append(r[2:])
        self.identifiers: dict[int, dict[str, tuple[int, str]]] = {}
        if owner == "person_id" and any(t.kind == "identifier" for _, t in ctx.extensions.values()):
            for iid, pid, scheme, value in _load(
                bulk, "identifiers", ("id", "person_id", "scheme", "value"), "person_id", ids
            ):
                self.identifiers.setdefault(pid, {})[scheme] = (iid, value)


def apply_updates(
    bulk: Bulk,
    ctx: Context,
    spec: PartySpec,
    rows: list[PartyRow],
    stored: dict[str, Stored],
    out: ChunkResult,
) -> set[int]:
    """Compare ``rows`` with their stored records; write the differences (not in a dry run).
    Returns the ids of the records that changed."""
    if not rows:
        return set()
    ids = [stored[r.key].id for r in rows]
    state = _State(bulk, spec, ids, ctx)
    plan = Plan()
    changed: set[int] = set()
    for row in rows:
        pid = stored[row.key].id
        if pid not in state.fields:
            continue
        touched = _fields(ctx, spec, plan, pid, row, state.fields[pid])
        touched |= _emails(ctx, spec, plan, pid, row, state.points["emails"].get(pid, []))
        touched |= _phones(ctx, spec, plan, pid, row, state.points["phones"].get(pid, []))
        touched |= _address(ctx, spec, plan, pid, row, state.points["addresses"].get(pid, []))
        touched |= _attributes(ctx, plan, pid, row, state)
        touched |= _identifiers(ctx, plan, pid, row, state)
        if touched:
            changed.add(pid)
            plan.touched.append(pid)
            out.add("updated")
        else:
            out.add("unchanged")
    if not ctx.dry_run:
        _write(bulk, ctx, spec, plan)
    return changed


def _fields(
    ctx: Context, spec: PartySpec, plan: Plan, pid: int, row: PartyRow, current: dict[str, Any]
) -> bool:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in row.fields.items():
        if name.endswith("_key") or name.startswith("__") or name not in current:
            continue
        if canon_value(current[name]) != canon_value(value):
            before[name], after[name] = current[name], value
    if not before:
        return False
    values = dict(after)
    for name, derived in _DERIVED.items():
        if name in values:
            values[derived] = search_key(values[name])
    names = tuple(sorted(values))
    plan.fields.setdefault(names, []).append((*(values[n] for n in names), pid))
    plan.change(
        spec.entity,
        pid,
        "updated",
        {
            "before": {k: jsonable(v) for k, v in before.items()},
            "after": {k: jsonable(v) for k, v in after.items()},
        },
    )
    for name in after:
        plan.sources.append((spec.entity, pid, name, ctx.source, ctx.batch_id, ctx.now))
    return True


def _emails(
    ctx: Context,
    spec: PartySpec,
    plan: Plan,
    pid: int,
    row: PartyRow,
    current: list[dict[str, Any]],
) -> bool:
    touched = False
    keys = {key for _, key in row.emails}
    for address, key in row.emails:
        if any(e["address_key"] == key for e in current):
            continue
        mine = next(
            (
                e
                for e in current
                if e["source_system"] == ctx.source and e["address_key"] not in keys
            ),
            None,
        )
        touched = True
        if mine is not None:
            plan.email_updates.append((address, key, ctx.now, mine["id"]))
            plan.change(
                "email",
                mine["id"],
                "updated",
                {
                    "before": {"address": mine["address"], "address_key": mine["address_key"]},
                    "after": {"address": address, "address_key": key},
                },
            )
            plan.sources.append(("email", mine["id"], "address", ctx.source, ctx.batch_id, ctx.now))
            mine["address_key"] = key
        else:
            plan.email_inserts.append(
                (pid, spec.contact_kind, not current, True, ctx.source, ctx.now, ctx.now,
                 address, key)
            )  # fmt: skip
            current.append({"address_key": key, "source_system": ctx.source, "id": None})
    return touched


def _phones(
    ctx: Context,
    spec: PartySpec,
    plan: Plan,
    pid: int,
    row: PartyRow,
    current: list[dict[str, Any]],
) -> bool:
    touched = False
    numbers = {p[0] for p in row.phones}
    for e164, raw, line_type in row.phones:
        if any(p["e164"] == e164 for p in current):
            continue
        mine = next(
            (p for p in current if p["source_system"] == ctx.source and p["e164"] not in numbers),
            None,
        )
        touched = True
        if mine is not None:
            plan.phone_updates.append((e164, raw, line_type, ctx.now, mine["id"]))
            plan.change(
                "phone",
                mine["id"],
                "updated",
                {
                    "before": {k: mine[k] for k in ("e164", "raw", "line_type")},
                    "after": {"e164": e164, "raw": raw, "line_type": line_type},
                },
            )
            plan.sources.append(("phone", mine["id"], "e164", ctx.source, ctx.batch_id, ctx.now))
            mine["e164"] = e164
        else:
            plan.phone_inserts.append(
                (pid, spec.contact_kind, not current, True, ctx.source, ctx.now, ctx.now,
                 e164, raw, line_type)
            )  # fmt: skip
            current.append({"e164": e164, "source_system": ctx.source, "id": None})
    return touched


def _same_place(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(
        (search_key(str(a[c])) if a[c] is not None else None)
        == (search_key(str(b[c])) if b[c] is not None else None)
        for c in ("line1", "postal_code", "country")
    )


def _address(
    ctx: Context,
    spec: PartySpec,
    plan: Plan,
    pid: int,
    row: PartyRow,
    current: list[dict[str, Any]],
) -> bool:
    new = row.address
    if new is None:
        return False
    mine = next((a for a in current if a["source_system"] == ctx.source), None)
    if mine is None:
        if any(_same_place(a, new) for a in current):
            return False
        plan.address_inserts.append(
            (pid, spec.contact_kind, not current, True, ctx.source, ctx.now, ctx.now,
             *(new[c] for c in _ADDRESS))
        )  # fmt: skip
        return True
    diff = [c for c in _PLACE if new[c] is not None and canon_value(mine[c]) != canon_value(new[c])]
    if not diff:
        return False
    merged = {c: (new[c] if new[c] is not None or c not in _PLACE else mine[c]) for c in _ADDRESS}
    plan.address_updates.append((*(merged[c] for c in _ADDRESS), ctx.now, mine["id"]))
    plan.change(
        "address",
        mine["id"],
        "updated",
        {
            "before": {c: jsonable(mine[c]) for c in _ADDRESS},
            "after": {c: jsonable(merged[c]) for c in _ADDRESS},
        },
    )
    for c in diff:
        plan.sources.append(("address", mine["id"], c, ctx.source, ctx.batch_id, ctx.now))
    return True


def _same_values(ctx: Context, attr_code: str, values: list[Any], stored: list[Row]) -> bool:
    attr = ctx.attributes[attr_code]
    if attr.id is None or not stored:
        return False
    if attr.type in ("choice", "multi_choice") and any(
        attr.choice_ids.get(v) is None for v in values
    ):
        return False  # a new choice cannot be stored yet
    wanted = attrs.value_rows(ctx, 0, [(attr_code, values)])
    mine = sorted(tuple(canon_value(v) for v in r) for r in stored)
    theirs = sorted(tuple(canon_value(v) for v in r[2:7]) for r in wanted)
    return mine == theirs


def _attributes(ctx: Context, plan: Plan, pid: int, row: PartyRow, state: _State) -> bool:
    touched = False
    for code, values in row.attributes:
        attr = ctx.attributes[code]
        stored = state.attributes.get((pid, attr.id), []) if attr.id is not None else []
        if _same_values(ctx, code, values, stored):
            continue
        touched = True
        plan.attribute_deletes.append((attr.id, pid))
        plan.attribute_inserts.append((pid, [(code, values)]))
        plan.change(
            "attribute_values",
            pid,
            "updated",
            {
                "definition_id": attr.id,
                "code": code,
                "before": [[jsonable(v) for v in r] for r in stored],
            },
        )
        plan.sources.append(("person_attribute", pid, code, ctx.source, ctx.batch_id, ctx.now))
    return touched


def _identifiers(ctx: Context, plan: Plan, pid: int, row: PartyRow, state: _State) -> bool:
    touched = False
    mine = state.identifiers.get(pid, {})
    for scheme, value in row.identifiers:
        current = mine.get(scheme)
        if current is not None and current[1] == value:
            continue
        touched = True
        if current is not None:
            plan.identifier_updates.append((value, current[0]))
            plan.change(
                "identifier",
                current[0],
                "updated",
                {"before": {"value": current[1]}, "after": {"value": value}},
            )
        else:
            plan.identifier_inserts.append((pid, scheme, value, ctx.source, ctx.now))
    return touched


def _insert_with_ids(
    bulk: Bulk, table: str, columns: tuple[str, ...], rows: list[Row], plan: Plan, entity: str
) -> None:
    if not rows:
        return
    ids = bulk.allocate_ids(table, len(rows))
    bulk.insert(table, ("id", *columns), [(i, *r) for i, r in zip(ids, rows, strict=True)])
    for i in ids:
        plan.change(entity, i, "created")


def _write(bulk: Bulk, ctx: Context, spec: PartySpec, plan: Plan) -> None:
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
        f"UPDATE addresses SET {', '.join(f'{c} = ?' for c in _ADDRESS)}, updated_at = ? "  # noqa: S608
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
    _insert_with_ids(bulk, "addresses", (*point, *_ADDRESS), plan.address_inserts, plan, "address")
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
