"""Recommendations (M18): next best products and categories per person, from item-to-item
co-purchase (persons who bought A also bought B) and the person's category affinity.

Products a person already bought and inactive products are never recommended. The offline
evaluation hides each person's last purchase, recommends from what came before, and reports
hit-rate@k and MRR against a popularity baseline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.targeting.baskets import Histories, matrix, read_histories
from closedloop.transactions.models import Product

if TYPE_CHECKING:
    import numpy as np

MAX_BASKET = 50  # a person's most recent distinct products used for co-purchase
CHUNK = 20_000  # persons scored at a time (a dense block of persons × products)


class Recommender:
    """Co-purchase counts, product popularity and categories, learned from histories.

    A basket is a person's last :data:`MAX_BASKET` distinct products. ``co[a, b]`` counts the
    baskets holding both a and b; a person's score for b sums ``co[a, b] / popularity(a)`` over
    the products a of their basket, times ``1 + share of their products in b's category``.
    Everything is computed on matrices (persons × products), a block of persons at a time.
    """

    def __init__(self, histories: Histories, catalog: dict[int, tuple[int | None, bool]]):
        import numpy as np

        self.ids = np.union1d(np.fromiter(catalog, dtype=np.int64, count=len(catalog)),
                              histories.product)  # fmt: skip
        info = [catalog.get(int(p), (None, False)) for p in self.ids]
        self.active = np.array([a for _, a in info], dtype=bool)
        self.people = histories.persons()
        size = (len(self.people) + 1, len(self.ids))  # the last row: a person with no history
        rows = np.searchsorted(self.people, histories.person)
        cols = np.searchsorted(self.ids, histories.product)
        recent = histories.from_end() < MAX_BASKET
        self.basket = matrix(rows[recent], cols[recent], size)
        self.owned = matrix(rows, cols, size)
        self.popular = np.asarray(self.basket.sum(axis=0)).ravel()
        co = (self.basket.T @ self.basket).toarray()
        np.fill_diagonal(co, 0.0)
        self.weights = co / np.maximum(self.popular, 1.0)[:, None]
        self.linked = co > 0
        cats = sorted({c for c, _ in info if c is not None})
        where = {c: i for i, c in enumerate(cats)}
        pairs = [(i, where[c]) for i, (c, _) in enumerate(info) if c is not None]
        self.category = matrix(np.array([i for i, _ in pairs], dtype=np.int64),
                               np.array([k for _, k in pairs], dtype=np.int64),
                               (len(self.ids), max(len(cats), 1)))  # fmt: skip
        self.category_of = self.category.toarray()
        # Popularity order: most baskets first, then the product seen first (persons by id).
        first_cols, first_at = np.unique(cols[recent], return_index=True)
        seen = np.full(len(self.ids), len(cols), dtype=np.int64)
        seen[first_cols] = first_at
        self.pop_rank = np.empty(len(self.ids), dtype=np.int64)
        self.pop_rank[np.lexsort((seen, -self.popular))] = np.arange(len(self.ids))

    def rows(self, person_ids: Any) -> np.ndarray:
        """Matrix rows of ``person_ids`` (persons without a history share the empty row)."""
        import numpy as np

        wanted = np.asarray(person_ids, dtype=np.int64)
        empty = len(self.people)
        if not empty:
            return np.zeros(len(wanted), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.people, wanted), empty - 1)
        return np.where(self.people[at] == wanted, at, empty)

    def _popular_order(
        self, excluded: np.ndarray, active: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        rank = np.where(excluded | ~active | (self.popular <= 0), np.iinfo(np.int64).max,
                        self.pop_rank)  # fmt: skip
        top = np.argsort(rank, axis=1, kind="stable")[:, :n]
        return top, np.take_along_axis(rank, top, axis=1) < np.iinfo(np.int64).max

    def top(self, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best products (column indices into ``ids``) of each matrix row, best
        first, and which of them are real (a row may get fewer than ``n``)."""
        import numpy as np

        basket, owned = self.basket[rows], self.owned[rows].toarray() > 0
        score = np.asarray(basket @ self.weights)
        linked = np.asarray(basket @ self.linked) > 0
        counts = np.asarray(self.owned[rows] @ self.category_of)
        total = counts.sum(axis=1, keepdims=True)
        share = (counts / np.maximum(total, 1.0)) @ self.category_of.T
        score = np.round(score * (1.0 + share), 12)
        valid = linked & ~owned & self.active
        key = np.where(valid, -score, np.inf)
        best = np.argsort(key, axis=1, kind="stable")[:, :n]
        fill, fill_ok = self._popular_order(owned | valid, self.active, n)
        m = valid.sum(axis=1, keepdims=True)
        j = np.arange(best.shape[1])[None, :]
        k = np.clip(j - m, 0, max(fill.shape[1] - 1, 0))
        pick = np.where(j < m, best, np.take_along_axis(fill, k, axis=1))
        ok = (j < m) | np.take_along_axis(fill_ok, k, axis=1)
        return pick, ok

    def baseline(self, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most popular products each row has not bought (the baseline to beat)."""
        owned = self.owned[rows].toarray() > 0
        return self._popular_order(owned, self.active, n)

    def best(self, person_ids: list[int], n: int) -> dict[int, list[int]]:
        """The ``n`` best product ids of each person, a block of persons at a time."""
        out: dict[int, list[int]] = {}
        for start in range(0, len(person_ids), CHUNK):
            part = person_ids[start : start + CHUNK]
            pick, ok = self.top(self.rows(part), n)
            for person, cols, real in zip(part, pick.tolist(), ok.tolist(), strict=True):
                out[person] = [int(self.ids[c]) for c, r in zip(cols, real, strict=True) if r]
        return out


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
    rec = Recommender(read_histories(session), _catalog(session))
    chosen = rec.best(list(person_ids), n)
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
    import numpy as np

    train, held = read_histories(session).split_last()
    catalog = _catalog(session)
    # The hidden product is judged even if inactive now: it was bought.
    rec = Recommender(train, {p: (c, True) for p, (c, _) in catalog.items()})
    people = sorted(held)[: max_persons or None]
    stats = {"model": [0, 0.0], "popularity": [0, 0.0]}
    for start in range(0, len(people), CHUNK):
        part = people[start : start + CHUNK]
        rows = rec.rows(part)
        target = np.searchsorted(rec.ids, [held[p] for p in part])[:, None]
        for name, (pick, ok) in (
            ("model", rec.top(rows, k)),
            ("popularity", rec.baseline(rows, k)),
        ):
            hit = (pick == target) & ok
            found = hit.any(axis=1)
            stats[name][0] += int(found.sum())
            stats[name][1] += float((1.0 / (hit.argmax(axis=1) + 1))[found].sum())
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
