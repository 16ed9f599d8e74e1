"""Purchase histories as arrays, for the recommender: each golden person's distinct products
in the order they were first bought, read once in columns (millions of order lines at a large
base) and turned into sparse person × product matrices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from closedloop.contacts.models import Person
from closedloop.targeting.features import as_utc, read_frame
from closedloop.transactions.models import Order, OrderLine

if TYPE_CHECKING:
    import numpy as np


@dataclass
class Histories:
    """Distinct products per person: ``person`` and ``product`` ids side by side, persons in
    ascending id order, each person's products in order of first purchase."""

    person: np.ndarray
    product: np.ndarray

    def __len__(self) -> int:
        return len(self.person)

    def persons(self) -> np.ndarray:
        """The persons with at least one product, ascending."""
        import numpy as np

        return np.unique(self.person)

    def as_dict(self) -> dict[int, list[int]]:
        """``{person id: [product ids in order of first purchase]}`` (small bases, tests)."""
        out: dict[int, list[int]] = {}
        for p, item in zip(self.person.tolist(), self.product.tolist(), strict=True):
            out.setdefault(p, []).append(item)
        return out

    def from_end(self) -> np.ndarray:
        """For each entry, how many of the same person's products come after it."""
        import numpy as np

        if not len(self):
            return np.zeros(0, dtype=np.int64)
        _, starts, counts = np.unique(self.person, return_index=True, return_counts=True)
        run = np.repeat(np.arange(len(starts)), counts)
        return (starts + counts - 1)[run] - np.arange(len(self.person))

    def split_last(self) -> tuple[Histories, dict[int, int]]:
        """The histories without each person's last product (persons with at least two), and
        those hidden products by person."""
        import numpy as np

        last = self.from_end() == 0
        counts = np.unique(self.person, return_counts=True)
        many = set(counts[0][counts[1] >= 2].tolist())
        hide = last & np.isin(self.person, list(many))
        held = dict(zip(self.person[hide].tolist(), self.product[hide].tolist(), strict=True))
        return Histories(self.person[~hide], self.product[~hide]), held


def read_histories(session: Session) -> Histories:
    """Each golden person's distinct products in order of first purchase (completed orders;
    ties in time broken by order id, then line number)."""
    import numpy as np

    stmt = (
        select(
            Order.person_id,
            OrderLine.product_id,
            type_coerce(Order.ordered_at, String).label("ordered_at"),
            Order.id,
            OrderLine.line_no,
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Person, Person.id == Order.person_id)
        .where(
            Order.status == "completed",
            OrderLine.product_id.is_not(None),
            Person.merged_into_id.is_(None),
        )
    )
    frame = read_frame(session, stmt, ["person", "product", "at", "order", "line"])
    if frame.empty:
        empty = np.zeros(0, dtype=np.int64)
        return Histories(empty, empty)
    at = as_utc(frame["at"]).dt.tz_localize(None).to_numpy().view(np.int64)
    cols = [frame[c].to_numpy(dtype=np.int64) for c in ("line", "order")]
    person = frame["person"].to_numpy(dtype=np.int64)
    order = np.lexsort((*cols, at, person))
    pairs = frame[["person", "product"]].iloc[order]
    first = pairs.drop_duplicates(keep="first")
    return Histories(
        first["person"].to_numpy(dtype=np.int64), first["product"].to_numpy(dtype=np.int64)
    )


def matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> Any:
    """A sparse 0/1 matrix (CSR) with ones at (rows, cols)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
