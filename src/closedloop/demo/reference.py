"""Reference rows written before the persons: catalogue, categories, products, the campaign.

Attribute definitions, choices, categories and products are looked up by code first, so a
second run (``--append``) reuses them; the campaign is new for every run.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import numpy as np

from closedloop.db.bulk import BulkWriter
from closedloop.demo.campaign import SEND_SEC, CampaignRefs
from closedloop.demo.catalog import ATTRIBUTES, CATEGORIES, product_names
from closedloop.demo.clock import Clock
from closedloop.demo.generate import Ids
from closedloop.demo.orders import ProductTable

PRODUCTS_PER_SUBCATEGORY = 10
SKU_PREFIX = "DM-"


def _labels(spec: str) -> tuple[str, str]:
    code, en, fr, *rest = spec.split("|")
    labels = {"en": en, "fr": fr} | ({"de": rest[0]} if rest else {})
    return code, json.dumps(labels, ensure_ascii=False)


def ensure_attributes(
    w: BulkWriter, ids: Ids, stamp: str
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Create the missing catalogue attributes and choices; return their ids by code."""
    defs = {str(c): int(i) for c, i in w.query("SELECT code, id FROM attribute_definitions")}
    new_defs = []
    for a in ATTRIBUTES:
        if a.code not in defs:
            defs[a.code] = ids.take("attribute_definitions", 1)
            labels = _labels(f"{a.code}|{a.labels}")[1]
            new_defs.append((defs[a.code], a.code, labels, a.group, a.type, a.applies_to, stamp))
    w.stream("attribute_definitions", ("id", "code", "labels", "group", "type", "applies_to",
                                       "created_at"), new_defs)  # fmt: skip
    rows = w.query(
        "SELECT d.code, c.code, c.id FROM attribute_choices c "
        "JOIN attribute_definitions d ON d.id = c.definition_id"
    )
    choices = {(str(d), str(c)): int(i) for d, c, i in rows}
    new_choices = []
    for a in ATTRIBUTES:
        for position, spec in enumerate(a.choices):
            code, labels = _labels(spec)
            if (a.code, code) not in choices:
                choices[(a.code, code)] = ids.take("attribute_choices", 1)
                new_choices.append((choices[(a.code, code)], defs[a.code], code, labels, position))
    w.stream(
        "attribute_choices", ("id", "definition_id", "code", "labels", "position"), new_choices
    )
    return defs, choices


def ensure_products(w: BulkWriter, ids: Ids, seed: int, batch_id: int, stamp: str) -> ProductTable:
    """Create the category tree and products if missing; return the products as arrays."""
    cats = {str(c): int(i) for c, i in w.query("SELECT code, id FROM product_categories")}
    have = w.query(f"SELECT COUNT(*) FROM products WHERE sku LIKE '{SKU_PREFIX}%'")[0][0]  # noqa: S608
    rnd = random.Random(seed)
    new_cats: list[tuple[Any, ...]] = []
    new_products: list[tuple[Any, ...]] = []
    for category in CATEGORIES:
        top_spec, low, high = category.spec, category.low_cents, category.high_cents
        top, top_labels = _labels(top_spec)
        if top not in cats:
            cats[top] = ids.take("product_categories", 1)
            new_cats.append((cats[top], top, json.loads(top_labels)["en"], top_labels, None))
        for sub_spec in category.subs:
            sub, sub_labels = _labels(sub_spec)
            code = f"{top}/{sub}"
            if code not in cats:
                cats[code] = ids.take("product_categories", 1)
                new_cats.append(
                    (cats[code], code, json.loads(sub_labels)["en"], sub_labels, cats[top])
                )
            if have:
                continue
            en = json.loads(sub_labels)["en"]
            for k, name in enumerate(product_names(en, PRODUCTS_PER_SUBCATEGORY, rnd)):
                cents = int(math.exp(rnd.uniform(math.log(low), math.log(high))) // 100 * 100 + 99)
                sku = f"{SKU_PREFIX}{sub.upper()}-{k + 1:03d}"
                new_products.append((ids.take("products", 1), sku, name, cats[code], cents / 100,
                                     "EUR", 1, stamp, "erp", sku, batch_id))  # fmt: skip
    w.stream("product_categories", ("id", "code", "name", "labels", "parent_id"), new_cats)
    w.stream("products", ("id", "sku", "name", "category_id", "unit_price", "currency",
                          "is_active", "created_at", "source_system", "external_id",
                          "import_batch_id"), new_products)  # fmt: skip
    rows = w.query(
        "SELECT p.id, p.unit_price, c.code FROM products p "  # noqa: S608 (a constant)
        f"JOIN product_categories c ON c.id = p.category_id WHERE p.sku LIKE '{SKU_PREFIX}%'"
    )
    tops = [_labels(t.spec)[0] for t in CATEGORIES]
    keyed = sorted((tops.index(str(code).split("/")[0]), round(float(price) * 100), int(pid))
                   for pid, price, code in rows)  # fmt: skip
    count = np.bincount(np.array([k[0] for k in keyed], dtype=np.int64), minlength=len(tops))
    popularity = np.array([t.popularity for t in CATEGORIES]) * (count > 0)
    return ProductTable(
        ids=np.array([k[2] for k in keyed], dtype=np.int64),
        cents=np.array([k[1] for k in keyed], dtype=np.int64),
        top_start=np.cumsum(count) - count,
        top_count=count,
        top_cum=np.cumsum(popularity) / popularity.sum(),
    )


def create_campaign(
    w: BulkWriter, ids: Ids, clock: Clock, batch_id: int, persons: int
) -> CampaignRefs:
    """Write the past campaign (completed), its wave, two offer cells and a control cell."""
    day = clock.today - 120
    window = 30
    start, end = clock.dates(np.array([day, day + window]))
    offers = [ids.take("offers", 1), ids.take("offers", 1)]
    w.stream("offers", ("id", "code", "name", "description", "valid_from", "valid_to"), [
        (offers[0], f"DEMO{batch_id}-PCT15", "15% off the next order",
         "Fifteen percent off every item of the next order, for a month.", start, end),
        (offers[1], f"DEMO{batch_id}-FREESHIP", "Free delivery",
         "Free delivery on the next order.", start, end),
    ])  # fmt: skip
    cid, wid = ids.take("campaigns", 1), ids.take("waves", 1)
    created = clock.stamps(np.array([day - 21]), np.array([10 * 3600]))[0]
    w.stream("campaigns", ("id", "code", "name", "objective", "status", "priority", "budget",
                           "currency", "starts_on", "ends_on", "response_window_days",
                           "created_at"), [
        (cid, f"DEMO-{batch_id}", "Seasonal e-mail offers (demo)",
         "Test two e-mail offers against a random control group and measure the lift in "
         "purchases within 30 days.", "completed", 100, round(persons * 0.03, 2), "EUR",
         start, end, window, created),
    ])  # fmt: skip
    sent = clock.stamps(np.array([day]), np.array([SEND_SEC]))[0]
    w.stream("waves", ("id", "campaign_id", "name", "scheduled_at", "status"),
             [(wid, cid, "Wave 1", sent, "completed")])  # fmt: skip
    cells = (ids.take("cells", 1), ids.take("cells", 1), ids.take("cells", 1))
    w.stream("cells", ("id", "campaign_id", "code", "name", "is_control", "channel", "offer_id",
                       "share", "unit_cost"), [
        (cells[0], cid, "A", "E-mail: 15% off the next order", 0, "email", offers[0], 0.45, 0.02),
        (cells[1], cid, "B", "E-mail: free delivery", 0, "email", offers[1], 0.45, 0.02),
        (cells[2], cid, "CONTROL", "Control group (no message)", 1, None, None, 0.10, None),
    ])  # fmt: skip
    return CampaignRefs(cid, wid, cells, day, window, 0.02, (15, 0, 0))
