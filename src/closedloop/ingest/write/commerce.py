"""Products and orders, upserted by (source, external id) like persons
(:class:`~closedloop.ingest.write.records.Upserter`).

A product's category is found by code or name, or created; its SKU must not belong to a
product of another source. An order names its buyer by the person's or organisation's
external id in the same source: an unknown buyer rejects the row.
"""

from __future__ import annotations

from sqlalchemy import insert

from closedloop.db.bulk import BulkWriter
from closedloop.ingest.map.mapping import slug
from closedloop.ingest.validate.context import ChunkResult
from closedloop.ingest.validate.convert import key_of
from closedloop.ingest.write.records import Upserter, Values, ids_by_key, record_changes
from closedloop.transactions.models import ProductCategory


class Products(Upserter):
    """Products by external id (or SKU), with their categories."""

    table = "products"
    entity = "product"
    columns = ("sku", "name", "category_id", "unit_price", "currency", "is_active")

    def key(self, row: Values) -> str | None:
        return row.get("external_id") or row.get("sku")

    def resolve(self, bulk: BulkWriter, rows: list[tuple[int, Values]], out: ChunkResult) -> None:
        ctx = self.ctx
        names = {r["category"] for _, r in rows if r.get("category")}
        categories: dict[str, int] = {}
        if names:
            for cid, code, name in bulk.query("SELECT id, code, name FROM product_categories"):
                categories.setdefault(key_of(code) or "", int(cid))
                categories.setdefault(key_of(name) or "", int(cid))
        for name in sorted(names):
            if key_of(name) not in categories and not ctx.dry_run:
                cid = bulk.conn.execute(
                    insert(ProductCategory).returning(ProductCategory.id),
                    {"code": slug(name), "name": name[:200], "labels": {ctx.locale: name[:200]}},
                ).scalar_one()
                record_changes(bulk, ctx, [{"entity": "product_category", "entity_id": cid,
                                            "action": "created", "data": None}])  # fmt: skip
                categories[key_of(name) or ""] = cid
        skus = [r.get("sku") or r.get("external_id") for _, r in rows]
        owners = {
            s: (int(i), src, ext)
            for s, i, src, ext in bulk.select_in(
                "SELECT sku, id, source_system, external_id FROM products WHERE sku {in}",
                [],
                [s for s in skus if s],
            )
        }
        for line_no, row in rows:
            row["sku"] = row.get("sku") or row.get("external_id")
            row["category_id"] = categories.get(key_of(row.get("category")) or "")
            row.setdefault("currency", ctx.default_currency)
            owner = owners.get(row["sku"])
            key = self.key(row)
            if owner is not None and (owner[1], owner[2]) != (ctx.source, key):
                out.reject(
                    line_no, "sku", row["sku"],
                    f"SKU {row['sku']} already belongs to product #{owner[0]} "
                    f"({owner[1] or 'no source'} {owner[2] or ''})".rstrip(),
                )  # fmt: skip

    def to_columns(self, row: Values) -> Values | None:
        cols = super().to_columns(row)
        assert cols is not None
        if cols["is_active"] is None:
            cols["is_active"] = True
        return cols


class Orders(Upserter):
    """Orders by external id, with their buyer."""

    table = "orders"
    entity = "order"
    columns = (
        "person_id", "organisation_id", "ordered_at", "channel", "currency", "total_amount",
        "status", "supplier",
    )  # fmt: skip

    def resolve(self, bulk: BulkWriter, rows: list[tuple[int, Values]], out: ChunkResult) -> None:
        ctx = self.ctx
        people = ids_by_key(
            bulk,
            "persons",
            ctx.source,
            [r["person_external_id"] for _, r in rows if r.get("person_external_id")],
        )
        orgs = ids_by_key(
            bulk, "organisations", ctx.source,
            [r["organisation_external_id"] for _, r in rows if r.get("organisation_external_id")],
        )  # fmt: skip
        for line_no, row in rows:
            for field, table, found in (
                ("person_external_id", "person", people),
                ("organisation_external_id", "organisation", orgs),
            ):
                ref = row.get(field)
                if ref is not None and ref not in found:
                    out.reject(
                        line_no, field, ref,
                        f"unknown {table} {ref!r} (no {table} with this id from {ctx.source}; "
                        f"import the {table}s first)",
                    )  # fmt: skip
            row["person_id"] = people.get(row.get("person_external_id") or "")
            row["organisation_id"] = orgs.get(row.get("organisation_external_id") or "")
            row.setdefault("currency", ctx.default_currency)
            row.setdefault("status", "completed")
            if (
                row["person_id"] is None
                and row["organisation_id"] is None
                and line_no not in out.rejected_lines
            ):
                out.reject(line_no, "person_external_id", None, "the order names no buyer")
