"""Changed rows of stored persons and organisations: only what differs is written.

Fields are compared with the stored values; an empty cell leaves the stored value alone. A
contact point is matched by value (an email already on the record from any source is kept);
a changed email, phone or address replaces the one this source gave before, else it is added.
Every change keeps its before-image (``import_changes``, for rollback) and its origin
(``value_sources``: entity, id, field, source, batch, time). Contact points are compared in
:mod:`closedloop.ingest.write.persons.points`; what a chunk changes is gathered in a
:class:`~closedloop.ingest.write.persons.plan.Plan` and written by statement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from closedloop.contacts.normalize import search_key
from closedloop.db.bulk import BulkWriter, Row
from closedloop.ingest.validate.context import ChunkResult, Context
from closedloop.ingest.validate.prepare import ADDRESS_COLUMNS, PartyRow
from closedloop.ingest.write import attributes as attrs
from closedloop.ingest.write.attributes import canon_value
from closedloop.ingest.write.persons.plan import Plan, jsonable, write_plan
from closedloop.ingest.write.persons.points import address_changed, emails_changed, phones_changed

if TYPE_CHECKING:
    from closedloop.ingest.write.persons.classify import PartySpec, Stored

_DERIVED = {"given_name": "given_key", "family_name": "family_key", "name": "name_key"}


def _load(
    bulk: BulkWriter, table: str, columns: tuple[str, ...], where: str, ids: list[int]
) -> list[Row]:
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE {where} {{in}}"  # noqa: S608
    return bulk.select_in(sql, [], ids)


class _State:
    """The stored state of the records a chunk changes."""

    def __init__(self, bulk: BulkWriter, spec: PartySpec, ids: list[int], ctx: Context) -> None:
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
            ("addresses", ADDRESS_COLUMNS),
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
    bulk: BulkWriter,
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
        points = state.points
        touched |= emails_changed(ctx, spec, plan, pid, row, points["emails"].get(pid, []))
        touched |= phones_changed(ctx, spec, plan, pid, row, points["phones"].get(pid, []))
        touched |= address_changed(ctx, spec, plan, pid, row, points["addresses"].get(pid, []))
        touched |= _attributes(ctx, plan, pid, row, state)
        touched |= _identifiers(ctx, plan, pid, row, state)
        if touched:
            changed.add(pid)
            plan.touched.append(pid)
            out.add("updated")
        else:
            out.add("unchanged")
    if not ctx.dry_run:
        write_plan(bulk, ctx, spec, plan)
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
