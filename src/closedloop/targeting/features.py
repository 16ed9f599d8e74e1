"""Behaviour features of persons at a cut-off date, from their orders (no look-ahead).

One row per golden person: recency, frequency and monetary value before the cut-off, the same
for one category (the category and its subcategories), tenure and breadth of categories. The
label of a window is "bought the category in [cut-off, cut-off + horizon)".
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, String, cast, select, type_coerce
from sqlalchemy.orm import Session, aliased

from closedloop.contacts.models import Person
from closedloop.errors import ValidationFailed
from closedloop.transactions.models import Order, OrderLine, Product, ProductCategory

if TYPE_CHECKING:
    import pandas as pd

FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "categories",
    "cat_frequency",
    "cat_monetary",
    "cat_recency_days",
    "cat_share",
)
NEVER = 10_000.0  # days since an event that never happened
PARTITION = 500_000  # rows fetched at a time


def category_ids(session: Session, code: str) -> list[int]:
    """Ids of the category ``code`` and its subcategories; an unknown code is refused."""
    cats = session.execute(
        select(ProductCategory.id, ProductCategory.code, ProductCategory.parent_id)
    ).all()
    root = next((c.id for c in cats if c.code == code), None)
    if root is None:
        known = ", ".join(sorted(c.code for c in cats if c.parent_id is None)[:20])
        raise ValidationFailed(
            f"Unknown category '{code}' (top categories: {known or 'none'}).",
            errors=[{"field": "category", "message": f"no category has the code {code!r}"}],
        )
    ids, frontier = {root}, {root}
    while frontier:
        frontier = {c.id for c in cats if c.parent_id in frontier} - ids
        ids |= frontier
    return sorted(ids)


def load_lines(session: Session) -> pd.DataFrame:
    """Completed order lines of golden persons: person_id, ordered_at, amount, category ids.

    Millions of lines at a large base: the values come from the driver as they are (the
    amount cast to a float by the database, the time parsed by pandas in one go), never
    through per-row type conversion.
    """

    parent = aliased(ProductCategory)
    stmt = (
        select(
            Order.person_id,
            type_coerce(Order.ordered_at, String).label("ordered_at"),
            cast(OrderLine.amount, Float).label("amount"),
            Product.category_id,
            parent.parent_id.label("parent_category_id"),
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id, isouter=True)
        .join(parent, parent.id == Product.category_id, isouter=True)
        .join(Person, Person.id == Order.person_id)
        .where(Order.status == "completed", Person.merged_into_id.is_(None))
    )
    frame = read_frame(
        session, stmt, ["person_id", "ordered_at", "amount", "category_id", "parent_category_id"]
    )
    frame["ordered_at"] = as_utc(frame["ordered_at"])
    frame["amount"] = frame["amount"].astype(float)
    return frame


def read_frame(session: Session, stmt: Any, columns: list[str]) -> pd.DataFrame:
    """The rows of ``stmt`` as a data frame, read straight from the driver's cursor on the
    session's connection (no per-row work in SQLAlchemy), in partitions of tuples.

    The statement's values are written into its SQL (``literal_binds``): only statements
    whose values are our own constants go through here, never a user's input.
    """
    import pandas as pd

    connection = session.connection()
    sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        parts = []
        while rows := cursor.fetchmany(PARTITION):
            parts.append(pd.DataFrame.from_records(rows, columns=columns))
    finally:
        cursor.close()
    if not parts:
        return pd.DataFrame({name: [] for name in columns})
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def as_utc(values: Any) -> Any:
    """Times from the driver (ISO text on SQLite, datetimes elsewhere) as UTC pandas times."""
    import pandas as pd

    if len(values) and isinstance(values.iloc[0], str):
        return pd.to_datetime(values, utc=True, format="ISO8601")
    return pd.to_datetime(values, utc=True)


def person_ids(session: Session) -> list[int]:
    """Ids of every golden person (merged sources left out)."""
    stmt = select(Person.id).where(Person.merged_into_id.is_(None)).order_by(Person.id)
    return list(session.scalars(stmt))


def in_category(lines: pd.DataFrame, cat_ids: list[int]) -> Any:
    """A boolean mask: the line's product is in one of ``cat_ids`` (or a child of one)."""
    return lines["category_id"].isin(cat_ids) | lines["parent_category_id"].isin(cat_ids)


def features_at(lines: pd.DataFrame, persons: Any, mask: Any, cutoff: datetime) -> pd.DataFrame:
    """The feature table (index: person id, columns: :data:`FEATURES`) as of ``cutoff``."""
    import pandas as pd

    past = lines[lines["ordered_at"] < cutoff]
    cat = past[mask[past.index]]
    out = pd.DataFrame(index=pd.Index(persons, name="person_id"))
    days = (cutoff - past["ordered_at"]).dt.total_seconds() / 86400.0
    g = past.assign(days=days).groupby("person_id")
    out["recency_days"] = g["days"].min()
    out["tenure_days"] = g["days"].max()
    out["frequency"] = g["ordered_at"].nunique()
    out["monetary"] = g["amount"].sum()
    out["categories"] = g["category_id"].nunique()
    cdays = (cutoff - cat["ordered_at"]).dt.total_seconds() / 86400.0
    cg = cat.assign(days=cdays).groupby("person_id")
    out["cat_frequency"] = cg["ordered_at"].nunique()
    out["cat_monetary"] = cg["amount"].sum()
    out["cat_recency_days"] = cg["days"].min()
    out = out.fillna({"recency_days": NEVER, "tenure_days": 0.0, "cat_recency_days": NEVER}).fillna(
        0.0
    )
    out["cat_share"] = out["cat_monetary"] / out["monetary"].where(out["monetary"] > 0, 1.0)
    return out[list(FEATURES)]


def labels(lines: pd.DataFrame, persons: Any, mask: Any, start: datetime, end: datetime) -> Any:
    """1 for each person who bought the category in ``[start, end)``, else 0."""
    import numpy as np
    import pandas as pd

    window = lines[mask & (lines["ordered_at"] >= start) & (lines["ordered_at"] < end)]
    bought = np.isin(np.asarray(persons), window["person_id"].unique())
    return pd.Series(bought.astype(int), index=persons, dtype=int)


def top_categories(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every top-level category, by name: what a page offers to target."""
    stmt = (
        select(ProductCategory.code, ProductCategory.name)
        .where(ProductCategory.parent_id.is_(None))
        .order_by(ProductCategory.name)
    )
    return [(str(code), str(name)) for code, name in session.execute(stmt)]
