"""Behaviour events from a web shop or an ERP: page views, carts, purchases, store visits.

They are stored in ``interface_events`` (not in ``responses``: a response is a reaction to a
campaign, needs a known person and has no (source, external id) key to upsert on), upserted
by (source, external id). The person, order and product are named by their ids in the same
source (the product also by SKU); an unknown reference rejects the event. Anonymous events
(no person) are kept: a later sync can name the person. A purchase or a store visit of a
known person is announced as a response (:mod:`closedloop.interfaces.event_responses`).

The items are written in one savepoint; when the database refuses it, item by item, so that
one refused item is rejected alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from closedloop.contacts.normalize import clean_text
from closedloop.db.base import as_utc, utcnow
from closedloop.ingest import READERS, Field, canon_value
from closedloop.interfaces import adapter, event_responses
from closedloop.interfaces.event_responses import is_response
from closedloop.interfaces.items import ItemResult, read_fields
from closedloop.interfaces.models import InterfaceEvent

KINDS = (
    "page_view",
    "product_view",
    "search",
    "cart_add",
    "cart_remove",
    "cart_abandoned",
    "checkout",
    "purchase",
    "store_visit",
    "signup",
    "login",
    "other",
)
FIELDS = (
    Field("external_id", "key", 128, "the event's id in the source system"),
    Field("kind", "text", 32, "page_view, product_view, cart_add, purchase, store_visit…"),
    Field("occurred_at", "datetime", None, "when it happened"),
    Field("person_external_id", "key", 128, "the person (of the same source); empty: anonymous"),
    Field("order_external_id", "key", 128, "the order (a purchase)"),
    Field("sku", "text", 64, "the product's SKU"),
    Field("product_external_id", "key", 128, "or the product's id in the source"),
    Field("session_id", "text", 128, "the visitor's session in the shop"),
    Field("url", "text", 2000, "the page"),
    Field("store", "text", 100, "the store of a visit"),
    Field("amount", "amount", None, "the amount (cart value, purchase)"),
    Field("currency", "currency", 3, "ISO currency"),
)
NAMES = tuple(f.name for f in FIELDS)
COLUMNS = (
    "kind",
    "occurred_at",
    "person_id",
    "order_id",
    "product_id",
    "session_id",
    "url",
    "store",
    "amount",
    "currency",
    "detail",
)
MAX_DETAIL_CHARS = 10_000


def _read(ctx: Any, item: Any, result: ItemResult) -> dict[str, Any] | None:
    got = read_fields(item, result, NAMES, nested=frozenset({"detail"}))
    if got is None:
        return None
    values, extra = got
    row: dict[str, Any] = {}
    for spec, raw in zip(FIELDS, values, strict=True):
        if raw is None:
            continue
        try:
            row[spec.name] = READERS[spec.type](spec, raw, ctx)
        except ValueError as exc:
            result.reject(spec.name, str(exc), raw)
    result.external_id = clean_text(row.get("external_id"))
    for name in ("external_id", "kind", "occurred_at"):
        if values[NAMES.index(name)] is None:
            result.reject(name, "required")
    kind = str(row.get("kind") or "").strip().lower()
    if kind and kind not in KINDS:
        result.reject("kind", f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", kind)
    row["kind"] = kind
    detail = extra.get("detail")
    if detail is not None and not isinstance(detail, dict):
        result.reject("detail", "must be a JSON object")
    elif detail is not None and len(str(detail)) > MAX_DETAIL_CHARS:
        result.reject("detail", f"too large (at most {MAX_DETAIL_CHARS:,} characters)")
    row["detail"] = detail
    return row if result.status != "rejected" else None


def _references(session: Session, source: str, rows: dict[int, dict[str, Any]]) -> Any:
    bulk = adapter.bulk_of(session)

    def ids(table: str, field: str) -> dict[str, int]:
        keys = [r[field] for r in rows.values() if r.get(field)]
        sql = f"SELECT external_id, id FROM {table} WHERE source_system = ? AND external_id {{in}}"  # noqa: S608
        return {k: int(i) for k, i in bulk.select_in(sql, [source], keys)}

    skus = [r["sku"] for r in rows.values() if r.get("sku")]
    by_sku = {
        k: int(i)
        for k, i in bulk.select_in("SELECT sku, id FROM products WHERE sku {in}", [], skus)
    }
    return (
        ids("persons", "person_external_id"),
        ids("orders", "order_external_id"),
        (ids("products", "product_external_id"), by_sku),
    )


def sync_events(session: Session, items: list[Any], *, source: str, user: str | None = None) -> Any:
    """Upsert events by (source, external id); returns a
    :class:`closedloop.interfaces.sync.SyncResult`."""
    from closedloop.interfaces.sync import SyncResult

    adapter.check_source(source)
    results = {i: ItemResult(i) for i in range(len(items))}
    batch_id = adapter.start_batch(session, "events", source, user, len(items))
    ctx = adapter.context("orders", source, batch_id)
    rows: dict[int, dict[str, Any]] = {}
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        row = _read(ctx, item, results[i])
        if row is None:
            continue
        key = results[i].external_id or ""
        if key in first:
            results[i].reject("external_id", f"duplicate: the same id as item {first[key]}", key)
            continue
        first[key] = i
        rows[i] = row
    people, orders, (products, skus) = _references(session, source, rows)
    for i, row in list(rows.items()):
        for field, found, what in (
            ("person_external_id", people, "person"),
            ("order_external_id", orders, "order"),
            ("product_external_id", products, "product"),
            ("sku", skus, "product"),
        ):
            ref = row.get(field)
            if ref is not None and ref not in found:
                results[i].reject(
                    field,
                    f"unknown {what} {ref!r} (none from {source}; sync the {what} first)",
                    ref,
                )
        row["person_id"] = people.get(row.get("person_external_id") or "")
        row["order_id"] = orders.get(row.get("order_external_id") or "")
        row["product_id"] = skus.get(row.get("sku") or "") or products.get(
            row.get("product_external_id") or ""
        )
        if results[i].status == "rejected":
            del rows[i]
    event_responses.announce(session, _write(session, source, rows, results))
    counts = adapter.finish_batch(session, batch_id, results.values())
    return SyncResult("events", source, batch_id, counts, [results[i] for i in sorted(results)])


def _write(
    session: Session, source: str, rows: dict[int, dict[str, Any]], results: dict[int, ItemResult]
) -> list[int]:
    """Upsert ``rows`` in one savepoint, or item by item when the database refuses the batch
    (the refused items are rejected with the reason); returns the ids of the events that
    became responses."""
    keys = {i: results[i].external_id or "" for i in rows}
    outcome: dict[int, tuple[str, int | None, bool]] = {}

    def write(indexes: list[int]) -> None:
        outcome.update(_upsert(session, source, {i: rows[i] for i in indexes}, keys))

    savepoints = adapter.Savepoints(session)
    savepoints.run(list(rows), write)
    adapter.refused(results, savepoints.failed)
    became: list[int] = []
    for i, (status, event_id, response) in outcome.items():
        results[i].status, results[i].id = status, event_id
        if response and event_id is not None:
            became.append(event_id)
    return became


def _upsert(
    session: Session, source: str, rows: dict[int, dict[str, Any]], keys: dict[int, str]
) -> dict[int, tuple[str, int | None, bool]]:
    """Item index → (status, event id, whether the event became a response)."""
    table = InterfaceEvent.__table__
    wanted = [keys[i] for i in rows]
    stored = (
        {
            r.external_id: r
            for r in session.execute(
                select(table).where(
                    table.c.source_system == source, table.c.external_id.in_(wanted)
                )
            )
        }
        if wanted
        else {}
    )
    now = utcnow()
    out: dict[int, tuple[str, int | None, bool]] = {}
    inserts: dict[int, dict[str, Any]] = {}
    for i, row in rows.items():
        values = {c: row.get(c) for c in COLUMNS}
        old = stored.get(keys[i])
        if old is None:
            inserts[i] = {
                **values,
                "source_system": source,
                "external_id": keys[i],
                "created_at": now,
            }
            continue
        diff = {
            c: v
            for c, v in values.items()
            if v is not None and canon_value(_stored(old, c)) != canon_value(v)
        }
        was = is_response(old.kind, old.person_id)
        now_is = is_response(diff.get("kind", old.kind), diff.get("person_id", old.person_id))
        out[i] = ("updated" if diff else "unchanged", int(old.id), now_is and not was)
        if diff:
            session.execute(
                update(InterfaceEvent)
                .where(InterfaceEvent.id == old.id)
                .values(**diff, updated_at=now)
                .execution_options(synchronize_session=False)
            )
    if inserts:
        session.execute(insert(InterfaceEvent), list(inserts.values()))
        found = session.execute(
            select(InterfaceEvent.external_id, InterfaceEvent.id).where(
                InterfaceEvent.source_system == source,
                InterfaceEvent.external_id.in_([keys[i] for i in inserts]),
            )
        )
        ids = {str(k): int(v) for k, v in found}
        for i, values in inserts.items():
            response = is_response(values["kind"], values["person_id"])
            out[i] = ("created", ids.get(keys[i]), response)
    return out


def _stored(event: Any, column: str) -> Any:
    value = getattr(event, column)
    return as_utc(value) if column == "occurred_at" and value is not None else value
