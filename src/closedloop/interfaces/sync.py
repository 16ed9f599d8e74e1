"""Upserts of persons and orders (with their lines) sent by an ERP or a web shop.

Each request is validated item by item and written through the import pipeline (see
:mod:`closedloop.interfaces.adapter`): valid items are stored, invalid ones reported with
their index, field and reason, and nothing of an invalid item is written (an order whose
line names an unknown product is rejected whole). An order sent with ``lines`` is the
source's whole order: stored lines it no longer has are removed. Persons created or changed
are announced with the ``persons_imported`` hook, so identity resolution and webhooks see
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.contacts.normalize import clean_text
from closedloop.hookspecs import pm
from closedloop.ingest import (
    ORDER_LINES,
    ORDERS,
    PERSONS,
    ChunkResult,
    OrderLines,
    Orders,
    PartyImporter,
)
from closedloop.ingest.models import ImportChange
from closedloop.interfaces import adapter
from closedloop.interfaces.items import ItemResult, read_fields

PERSON_FIELDS = PERSONS.names
ORDER_FIELDS = ORDERS.names
LINE_FIELDS = tuple(n for n in ORDER_LINES.names if n != "order_external_id")
_KEYED = "SELECT external_id, id{extra} FROM {table} WHERE source_system = ? AND external_id {{in}}"


@dataclass
class SyncResult:
    """The outcome of one sync request: its import batch, counts and every item's result."""

    kind: str
    source: str
    batch_id: int | None
    counts: dict[str, int]
    items: list[ItemResult]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's answer)."""
        return {
            "kind": self.kind,
            "source": self.source,
            "batch_id": self.batch_id,
            "counts": self.counts,
            "items": [r.as_dict() for r in self.items],
        }


def _item_line(line_no: int) -> tuple[int, str]:
    return line_no - 1, ""


def _keyed(session: Session, table: str, source: str, keys: list[str], extra: str = "") -> Any:
    sql = _KEYED.format(table=table, extra=extra)
    return {r[0]: r[1:] for r in adapter.bulk_of(session).select_in(sql, [source], keys)}


def _external_id(values: list[str | None], fields: tuple[str, ...], result: ItemResult) -> bool:
    key = clean_text(values[fields.index("external_id")])
    result.external_id = key
    if key is None:
        result.reject("external_id", "required: the record's id in the source system")
        return False
    return True


def _finish(
    session: Session,
    kind: str,
    source: str,
    batch_id: int,
    results: dict[int, ItemResult],
    failed: dict[int, str],
) -> SyncResult:
    adapter.refused(results, failed)
    counts = adapter.finish_batch(session, batch_id, results.values())
    return SyncResult(kind, source, batch_id, counts, [results[i] for i in sorted(results)])


def sync_persons(
    session: Session, items: list[Any], *, source: str, user: str | None = None
) -> SyncResult:
    """Upsert persons by (source, external id); see the module docstring."""
    adapter.check_source(source)
    results = {i: ItemResult(i) for i in range(len(items))}
    rows: dict[int, list[str | None]] = {}
    for i, item in enumerate(items):
        got = read_fields(item, results[i], PERSON_FIELDS)
        if got is not None and _external_id(got[0], PERSON_FIELDS, results[i]):
            rows[i] = got[0]
    batch_id = adapter.start_batch(session, "persons", source, user, len(items))
    importer = PartyImporter(adapter.context("persons", source, batch_id))
    keys = [results[i].external_id or "" for i in rows]
    before = _keyed(session, "persons", source, keys, ", version")
    staged: adapter.Staged = {}

    def write(indexes: list[int]) -> None:
        out = ChunkResult()
        importer.process(adapter.bulk_of(session), [(i + 1, rows[i]) for i in indexes], out)
        adapter.stage_rejects(out, staged, indexes, _item_line)

    savepoints = adapter.Savepoints(session)
    savepoints.run(list(rows), write)
    adapter.apply_rejects(staged, results)
    after = _keyed(session, "persons", source, keys, ", version")
    changed: list[int] = []
    for i in rows:
        result = results[i]
        if result.status == "rejected" or i in savepoints.failed:
            continue
        now = after.get(result.external_id)
        if now is None:
            continue
        result.id = int(now[0])
        was = before.get(result.external_id)
        result.status = "created" if was is None else "updated" if was[1] != now[1] else "unchanged"
        if result.status != "unchanged":
            changed.append(result.id)
    if changed:
        pm.hook.persons_imported(session=session, person_ids=changed, batch_id=batch_id)
    return _finish(session, "persons", source, batch_id, results, savepoints.failed)


def _order_rows(
    items: list[Any], results: dict[int, ItemResult]
) -> tuple[dict[int, list[str | None]], dict[int, list[list[str | None]]], set[int]]:
    """The orders' rows, their lines' rows, and the items sent with ``lines`` (whole)."""
    orders: dict[int, list[str | None]] = {}
    lines: dict[int, list[list[str | None]]] = {}
    whole: set[int] = set()
    for i, item in enumerate(items):
        result = results[i]
        got = read_fields(item, result, ORDER_FIELDS, nested=frozenset({"lines"}))
        if got is None:
            continue
        values, extra = got
        if not _external_id(values, ORDER_FIELDS, result):
            continue
        for name in ("ordered_at", "total_amount"):
            if values[ORDER_FIELDS.index(name)] is None:
                result.reject(name, "required")
        buyers = ("person_external_id", "organisation_external_id")
        if all(values[ORDER_FIELDS.index(n)] is None for n in buyers):
            result.reject("person_external_id", "required: the buyer (or organisation_external_id)")
        raw_lines = extra.get("lines")
        if raw_lines is not None:
            whole.add(i)
        raw_lines = [] if raw_lines is None else raw_lines
        if not isinstance(raw_lines, list):
            result.reject("lines", "must be a list of line objects")
            continue
        mine: list[list[str | None]] = []
        for j, line in enumerate(raw_lines):
            got_line = read_fields(line, result, LINE_FIELDS, prefix=f"lines[{j}].")
            if got_line is None:
                continue
            row = got_line[0]
            if row[LINE_FIELDS.index("sku")] is None and (
                row[LINE_FIELDS.index("product_external_id")] is None
            ):
                result.reject(f"lines[{j}].sku", "required: the product (or product_external_id)")
            mine.append([result.external_id, *row])
        if result.status != "rejected":
            orders[i], lines[i] = values, mine
    return orders, lines, whole


def sync_orders(
    session: Session, items: list[Any], *, source: str, user: str | None = None
) -> SyncResult:
    """Upsert orders and their lines by (source, external id); lines are matched by
    ``line_no`` (or by product when it is missing). An order sent with ``lines`` (even
    empty) is whole: its stored lines not sent are removed; without ``lines`` (or null) its
    lines stay as they are."""
    adapter.check_source(source)
    results = {i: ItemResult(i) for i in range(len(items))}
    orders, lines, whole = _order_rows(items, results)
    batch_id = adapter.start_batch(session, "orders", source, user, len(items))
    order_importer = Orders(adapter.context("orders", source, batch_id))
    line_importer = OrderLines(adapter.context("order_lines", source, batch_id))
    keys = [results[i].external_id or "" for i in orders]
    before = _keyed(session, "orders", source, keys)
    line_of: dict[int, tuple[int, str]] = {}
    numbered: dict[int, list[tuple[int, list[str | None]]]] = {}
    for i, rows in lines.items():
        numbered[i] = []
        for j, row in enumerate(rows):
            n = len(items) + 1 + len(line_of)
            line_of[n] = (i, f"lines[{j}].")
            numbered[i].append((n, row))
    staged: adapter.Staged = {}

    def write(indexes: list[int]) -> None:
        active = list(indexes)
        while True:
            sp = session.begin_nested()
            bulk = adapter.bulk_of(session)
            out = ChunkResult()
            order_importer.process(bulk, [(i + 1, orders[i]) for i in active], out)
            bad_orders = {n - 1 for n in out.rejected_lines}
            line_out = ChunkResult()
            good = [i for i in active if i not in bad_orders]
            todo = [r for i in good for r in numbered[i]]
            full = [results[i].external_id or "" for i in good if i in whole]
            line_importer.process(bulk, todo, line_out, full=full)
            bad = {line_of[n][0] for n in line_out.rejected_lines}
            if not bad:
                sp.commit()
                adapter.stage_rejects(out, staged, active, _item_line)
                return
            sp.rollback()
            adapter.stage_rejects(line_out, staged, bad, line_of.__getitem__)
            active = [i for i in active if i not in bad]

    savepoints = adapter.Savepoints(session)
    savepoints.run(list(orders), write)
    adapter.apply_rejects(staged, results)
    after = _keyed(session, "orders", source, keys)
    changed = _changed_orders(session, batch_id)
    for i in orders:
        result = results[i]
        now = after.get(result.external_id)
        if result.status == "rejected" or i in savepoints.failed or now is None:
            continue
        result.id = int(now[0])
        if result.external_id not in before:
            result.status = "created"
        else:
            result.status = "updated" if result.id in changed else "unchanged"
    return _finish(session, "orders", source, batch_id, results, savepoints.failed)


def _changed_orders(session: Session, batch_id: int) -> set[int]:
    """Orders whose fields or lines the batch changed (from its before-images)."""
    rows = adapter.bulk_of(session).query(
        "SELECT entity_id FROM import_changes WHERE batch_id = ? AND entity = 'order' "
        "UNION SELECT ol.order_id FROM import_changes ic JOIN order_lines ol "
        "ON ol.id = ic.entity_id WHERE ic.batch_id = ? AND ic.entity = 'order_line'",
        [batch_id, batch_id],
    )
    removed = session.scalars(
        select(ImportChange.data).where(
            ImportChange.batch_id == batch_id, ImportChange.entity == "removed_order_line"
        )
    )
    return {int(r[0]) for r in rows} | {int(d["before"]["order_id"]) for d in removed if d}
