"""Recommendations (M18): next best products and categories per person, from item-to-item
co-purchase (persons who bought A also bought B) and the person's category affinity.

Products a person already bought and inactive products are never recommended. The offline
evaluation hides each person's last purchase, recommends from what came before, and reports
hit-rate@k and MRR against a popularity baseline.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Person
from closedloop.transactions.models import Order, OrderLine, Product

MAX_BASKET = 50  # a person's most recent distinct products used for co-purchase


def _history(session: Session) -> dict[int, list[int]]:
    """Each golden person's distinct products in order of first purchase."""
    stmt = (
        select(Order.person_id, OrderLine.product_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Person, Person.id == Order.person_id)
        .where(
            Order.status == "completed",
            OrderLine.product_id.is_not(None),
            Person.merged_into_id.is_(None),
        )
        .order_by(Order.person_id, Order.ordered_at, Order.id, OrderLine.line_no)
    )
    out: dict[int, list[int]] = defaultdict(list)
    seen: dict[int, set[int]] = defaultdict(set)
    for person_id, product_id in session.execute(stmt):
        if person_id is None or product_id is None:
            continue
        if product_id not in seen[person_id]:
            seen[person_id].add(product_id)
            out[person_id].append(product_id)
    return out


class Recommender:
    """Co-purchase counts, product popularity and categories, learned from histories."""

    def __init__(
        self, histories: dict[int, list[int]], catalog: dict[int, tuple[int | None, bool]]
    ):
        self.catalog = catalog  # product id -> (category id, active)
        self.popular: Counter[int] = Counter()
        self.co: dict[int, Counter[int]] = defaultdict(Counter)
        for items in histories.values():
            basket = items[-MAX_BASKET:]
            self.popular.update(basket)
            for a in basket:
                row = self.co[a]
                for b in basket:
                    if a != b:
                        row[b] += 1
        self.by_popularity = [p for p, _ in self.popular.most_common() if self._active(p)]

    def _active(self, product_id: int) -> bool:
        return self.catalog.get(product_id, (None, False))[1]

    def products(self, bought: list[int], n: int) -> list[int]:
        """The ``n`` best products for someone who bought ``bought`` (never one of those)."""
        owned = set(bought)
        score: dict[int, float] = defaultdict(float)
        for a in bought[-MAX_BASKET:]:
            row = self.co.get(a)
            if row:
                total = self.popular[a] or 1
                for b, c in row.items():
                    score[b] += c / total
        affinity = Counter(self.catalog.get(p, (None, False))[0] for p in bought)
        affinity.pop(None, None)
        if affinity:
            top = sum(affinity.values())
            for b in list(score):
                cat = self.catalog.get(b, (None, False))[0]
                score[b] *= 1.0 + affinity.get(cat, 0) / top
        ranked = [
            p
            for p, _ in sorted(score.items(), key=lambda kv: -kv[1])
            if p not in owned and self._active(p)
        ]
        if len(ranked) < n:  # fill from the most popular products
            extra = set(ranked)
            ranked += [p for p in self.by_popularity if p not in owned and p not in extra]
        return ranked[:n]

    def baseline(self, bought: list[int], n: int) -> list[int]:
        """The ``n`` most popular products not yet bought (the baseline to beat)."""
        owned = set(bought)
        return [p for p in self.by_popularity if p not in owned][:n]


def _catalog(session: Session) -> dict[int, tuple[int | None, bool]]:
    rows = session.execute(select(Product.id, Product.category_id, Product.is_active))
    return {pid: (cat, bool(active)) for pid, cat, active in rows}


def _item(product: Product) -> dict[str, Any]:
    return {
        "product_id": product.id,
        "sku": product.sku,
        "code": product.sku,
        "name": product.name,
        "category_id": product.category_id,
        "price": None if product.unit_price is None else float(product.unit_price),
        "currency": product.currency,
    }


def recommend_many(
    session: Session, person_ids: list[int], n: int = 5
) -> dict[int, list[dict[str, Any]]]:
    """The ``n`` next best products of each person (the model learnt once): product id,
    sku (also as ``code``), name, category id, price and currency, best first."""
    histories = _history(session)
    rec = Recommender(histories, _catalog(session))
    chosen = {p: rec.products(histories.get(p, []), n) for p in person_ids}
    wanted = sorted({i for ids in chosen.values() for i in ids})
    products: dict[int, Product] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        products.update(
            {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(part)))}
        )
    return {p: [_item(products[i]) for i in ids if i in products] for p, ids in chosen.items()}


def recommend(session: Session, person_id: int, n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` next best products for one person: id, sku, name, category id, price."""
    return recommend_many(session, [person_id], n)[person_id]


def next_categories(session: Session, person_id: int, n: int = 3) -> list[int]:
    """The categories of the person's recommended products, best first, each once."""
    out: list[int] = []
    for item in recommend(session, person_id, n * 4):
        cat = item["category_id"]
        if cat is not None and cat not in out:
            out.append(cat)
    return out[:n]


def evaluate(session: Session, k: int = 5, max_persons: int | None = None) -> dict[str, Any]:
    """Hide each person's last product (persons with at least two), learn from the rest,
    and compare hit-rate@k and MRR of the recommender with the popularity baseline."""
    histories = _history(session)
    held: dict[int, int] = {}
    train: dict[int, list[int]] = {}
    for person, items in histories.items():
        if len(items) >= 2:
            held[person] = items[-1]
            train[person] = items[:-1]
        else:
            train[person] = items
    catalog = _catalog(session)
    # The hidden product is judged even if inactive now: it was bought.
    rec = Recommender(train, {p: (c, True) for p, (c, _) in catalog.items()})
    people = sorted(held)[: max_persons or None]
    stats = {"model": [0, 0.0], "popularity": [0, 0.0]}
    for person in people:
        for name, ranked in (
            ("model", rec.products(train[person], k)),
            ("popularity", rec.baseline(train[person], k)),
        ):
            if held[person] in ranked:
                stats[name][0] += 1
                stats[name][1] += 1.0 / (ranked.index(held[person]) + 1)
    n = len(people) or 1
    return {
        "k": k,
        "persons": len(people),
        "products": len(catalog),
        "model": {
            "hit_rate": round(stats["model"][0] / n, 4),
            "mrr": round(stats["model"][1] / n, 4),
        },
        "popularity": {
            "hit_rate": round(stats["popularity"][0] / n, 4),
            "mrr": round(stats["popularity"][1] / n, 4),
        },
    }
