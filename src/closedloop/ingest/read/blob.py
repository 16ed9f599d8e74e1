"""A chunk's row values packed once by the read-ahead process and unpacked only where they
are needed: in a validation worker, for the rows that changed or are new.

The packing reuses what hashing a row already made
(:func:`closedloop.ingest.validate.context.row_text`): the row's values joined by U+001F;
the chunk's rows are joined by U+001E into one string, which crosses a pipe as one copy.
Readers give None for an empty cell, never ``""``, so the join loses nothing, provided no
value holds a separator: a chunk where one does (a control character in a cell) is pickled
instead. Measured on 1M rows: joining costs the reader 0.2 s, pickling the same values 3.2 s
(docs/benchmarks-import.md, fifth round).
"""

from __future__ import annotations

import pickle
from typing import Any

UNIT = "\x1f"
RECORD = "\x1e"
#: a chunk's values: the joined text, or a pickled list (one list of values per row)
Blob = str | bytes


def pack(rows: list[list[str | None]], texts: list[str] | None) -> Blob:
    """The values of ``rows``; ``texts``: each row's values joined (as hashed), if known."""
    if texts is not None and len(texts) == len(rows):
        joined = RECORD.join(texts)
        if joined.count(RECORD) == len(texts) - 1 and joined.count(UNIT) == sum(
            len(values) - 1 for values in rows
        ):
            return joined
    return pickle.dumps(rows, pickle.HIGHEST_PROTOCOL)


def unpack(blob: Blob, positions: list[int]) -> list[list[Any]]:
    """The values of the rows at ``positions``; from the joined text, an empty cell is
    ``""``, not None (validation reads both as empty)."""
    if isinstance(blob, bytes):
        rows: list[list[Any]] = pickle.loads(blob)  # noqa: S301 (made by this import's reader)
        return [rows[p] for p in positions]
    if not positions:
        return []
    texts = blob.split(RECORD)
    return [texts[p].split(UNIT) for p in positions]
