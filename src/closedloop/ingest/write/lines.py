"""Order lines, keyed by (order, line number); a line without a number is matched by product.

The order is named by its external id in the same source, the product by SKU or by its
external id. Quantity is 1 by default, the unit price the product's, the amount quantity ×
unit price.

A file import only adds and updates lines (an order's lines may be spread over a file). A
caller that sends orders whole (the sync API) names them in ``full``: their stored lines that
no row matches are removed, each kept in ``import_changes`` as a ``removed_order_line`` with
its full row, which rolling the batch back inserts again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from closedloop.contacts.normalize import clean_text
from closedloop.db.bulk import BulkWriter, Row
from closedloop.ingest.read.base import Row as ReadRow
from closedloop.ingest.read.base import RowProblem
from closedloop.ingest.validate.context import ChunkResult, Context
from closedloop.ingest.validate.values import MONEY, bounded
from closedloop.ingest.write.attributes import canon_value
from closedloop.ingest.write.persons.plan import jsonable
from closedloop.ingest.write.records import Values, ids_by_key, read_row, record_changes
from closedloop.transactions.models import OrderLine

CENT = Decimal("0.01")
_COLUMNS = ("product_id", "quantity", "unit_price", "amount")
#: (id, line_no, product_id, quantity, unit_price, amount) of a stored line
Stored = tuple[Any, ...]


class OrderLines:
    """The importer of order lines."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _products(
        self, bulk: BulkWriter, read: list[tuple[int, Values]]
    ) -> dict[str, tuple[int, Any]]:
        """``sku:…`` and ``ext:…`` → (product id, unit price)."""
        skus = [r["sku"] for _, r in read if r.get("sku")]
        out = {
            f"sku:{sku}": (int(pid), price)
            for sku, pid, price in bulk.select_in(
                "SELECT sku, id, unit_price FROM products WHERE sku {in}", [], skus
            )
        }
        refs = [r["product_external_id"] for _, r in read if r.get("product_external_id")]
        for ext, pid, price in bulk.select_in(
            "SELECT external_id, id, unit_price FROM products WHERE source_system = ? "
            "AND external_id {in}",
            [self.ctx.source],
            refs,
        ):
            out[f"ext:{ext}"] = (int(pid), price)
        return out

    def process(
        self,
        bulk: BulkWriter,
        rows: Sequence[ReadRow],
        out: ChunkResult,
        *,
        full: Collection[str] = (),
    ) -> None:
        """Upsert ``rows``; the orders whose external ids are in ``full`` are sent whole: their
        lines not matched by a row are removed (unless a row of that order was rejected)."""
        ctx = self.ctx
        read: list[tuple[int, Values]] = []
        for line_no, values in rows:
            row = read_row(ctx, line_no, values, out)
            if row is not None:
                read.append((line_no, row))
        whole = {k for k in (clean_text(x) for x in full) if k is not None}
        refs = [r["order_external_id"] for _, r in read if r.get("order_external_id")]
        orders = ids_by_key(bulk, "orders", ctx.source, [*refs, *sorted(whole)])
        products = self._products(bulk, read)
        existing: dict[int, list[Stored]] = {}
        for stored in bulk.select_in(
            "SELECT order_id, id, line_no, product_id, quantity, unit_price, amount "
            "FROM order_lines WHERE order_id {in}",
            [],
            list(orders.values()),
        ):
            existing.setdefault(int(stored[0]), []).append(stored[1:])
        seen: dict[tuple[int, Any], int] = {}
        inserts: list[Row] = []
        updates: list[Row] = []
        changes: list[dict[str, Any]] = []
        for line_no, row in read:
            line = self._line(ctx, line_no, row, orders, products, out)
            if line is None:
                continue
            order_id, number, new = line
            lines = existing.setdefault(order_id, [])
            match = next(
                (x for x in lines if (x[1] == number if number is not None else x[2] == new[0])),
                None,
            )
            if number is None:
                number = match[1] if match else max((int(x[1]) for x in lines), default=0) + 1
            first = seen.get((order_id, number))
            if first is not None:
                reason = f"duplicate: the same line as line {first}"
                out.reject(line_no, "line_no", str(number), reason)
                out.add("duplicates")
                continue
            seen[(order_id, number)] = line_no
            if match is None:
                inserts.append((order_id, number, *new))
                lines.append((None, number, *new))
                out.add("new")
            elif [canon_value(v) for v in match[2:]] != [canon_value(v) for v in new]:
                updates.append((*new, match[0]))
                before = dict(zip(_COLUMNS, (jsonable(v) for v in match[2:]), strict=True))
                after = dict(zip(_COLUMNS, (jsonable(v) for v in new), strict=True))
                changes.append(
                    {
                        "entity": "order_line",
                        "entity_id": match[0],
                        "action": "updated",
                        "data": {"before": before, "after": after},
                    }
                )
                out.add("updated")
            else:
                out.add("unchanged")
        unsent = self._unsent(rows, out, whole, orders, existing, seen)
        if unsent:
            out.add("removed", len(unsent))
        if not ctx.dry_run:
            self._write(bulk, inserts, updates, changes)
            self._remove(bulk, unsent)

    def _unsent(
        self,
        rows: Sequence[ReadRow],
        out: ChunkResult,
        whole: set[str],
        orders: dict[str, int],
        existing: dict[int, list[Stored]],
        seen: dict[tuple[int, Any], int],
    ) -> list[tuple[int, Stored]]:
        """(order id, stored line) of the lines of the orders sent whole that no row named."""
        if not whole:
            return []
        at = self.ctx.fields.get("order_external_id")
        spoiled = {
            clean_text(values[at])
            if at is not None and not isinstance(values, RowProblem) and at < len(values)
            else None
            for line_no, values in rows
            if line_no in out.rejected_lines
        }
        found: list[tuple[int, Stored]] = []
        for key in sorted(whole - spoiled):
            order_id = orders.get(key)
            if order_id is None:
                continue
            for line in existing.get(order_id, []):
                if line[0] is not None and (order_id, line[1]) not in seen:
                    found.append((order_id, line))
        return found

    def _remove(self, bulk: BulkWriter, unsent: list[tuple[int, Stored]]) -> None:
        """Delete lines an order no longer has, each kept whole (every column, its id too) in
        ``import_changes`` so that rolling the batch back puts it back."""
        if not unsent:
            return
        table = OrderLine.__table__
        ids = [int(line[0]) for _, line in unsent]
        rows = bulk.conn.execute(select(table).where(table.c.id.in_(ids))).mappings().all()
        bulk.executemany("DELETE FROM order_lines WHERE id = ?", [(i,) for i in ids])
        changes = [
            {
                "entity": "removed_order_line",
                "entity_id": int(row["id"]),
                "action": "deleted",
                "data": {"before": {c: jsonable(v) for c, v in row.items()}},
            }
            for row in rows
        ]
        record_changes(bulk, self.ctx, changes)

    def _line(
        self,
        ctx: Context,
        line_no: int,
        row: Values,
        orders: dict[str, int],
        products: dict[str, tuple[int, Any]],
        out: ChunkResult,
    ) -> tuple[int, Any, tuple[Any, ...]] | None:
        ref = row.get("order_external_id")
        order_id = orders.get(ref or "")
        if order_id is None:
            reason = f"unknown order {ref!r} (no order with this id from {ctx.source})"
            out.reject(line_no, "order_external_id", ref, reason)
            return None
        sku, ext = row.get("sku"), row.get("product_external_id")
        product = products.get(f"sku:{sku}") if sku else products.get(f"ext:{ext}")
        if product is None:
            field = "sku" if sku else "product_external_id"
            out.reject(line_no, field, sku or ext, f"unknown product {sku or ext!r}")
            return None
        quantity = row.get("quantity") or Decimal(1)
        price = row.get("unit_price")
        if price is None and product[1] is not None:
            price = Decimal(str(product[1])).quantize(CENT)
        if price is None:
            out.reject(line_no, "unit_price", None, "no unit price (and the product has none)")
            return None
        amount = row.get("amount")
        if amount is None:
            try:
                amount = bounded(quantity * price, *MONEY).quantize(CENT)
            except ValueError as exc:
                reason = f"quantity × unit price is {exc}"
                out.reject(line_no, "amount", f"{quantity} × {price}", reason)
                return None
        return order_id, row.get("line_no"), (product[0], quantity, price, amount)

    def _write(
        self,
        bulk: BulkWriter,
        inserts: list[Row],
        updates: list[Row],
        changes: list[dict[str, Any]],
    ) -> None:
        if inserts:
            ids = bulk.allocate_ids("order_lines", len(inserts))
            bulk.insert(
                "order_lines",
                ("id", "order_id", "line_no", *_COLUMNS),
                [(i, *r) for i, r in zip(ids, inserts, strict=True)],
            )
            changes.extend(
                {"entity": "order_line", "entity_id": i, "action": "created", "data": None}
                for i in ids
            )
        bulk.executemany(
            "UPDATE order_lines SET product_id = ?, quantity = ?, unit_price = ?, amount = ? "
            "WHERE id = ?",
            updates,
        )
        record_changes(bulk, self.ctx, changes)
