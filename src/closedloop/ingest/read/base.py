"""The table interface every reader implements, and cell conversion to text."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

FORMATS = ("csv", "xlsx", "json", "parquet")


@dataclass(frozen=True)
class RowProblem:
    """Why a reader could not turn a record into a row: yielded in place of the row's values
    (a malformed JSON record, or keys that are not among the columns); the import rejects the
    row with this reason. ``field`` names what is at fault, when one thing is."""

    reason: str
    field: str | None = None


#: ``(line_no, values)``: a row's cells as text (None for an empty one), or the problem that
#: kept the record from being read.
Row = tuple[int, list[str | None] | RowProblem]


class TableError(Exception):
    """The file cannot be read as a table; the message says why, for a person."""


@dataclass
class Table:
    """An opened file: its header, how it was read, and its rows.

    ``rows(skip)`` streams ``(line_no, values)``; the first ``skip`` data rows are read but not
    returned (a resumed import). ``progress()`` is the fraction of the file read so far.
    """

    format: str
    headers: list[str]
    rows_factory: Callable[[int], Iterator[Row]]
    progress: Callable[[], float] = lambda: 0.0
    close: Callable[[], None] = lambda: None
    encoding: str | None = None
    delimiter: str | None = None
    total_rows: int | None = None
    warnings: list[str] = field(default_factory=list)

    def rows(self, skip: int = 0) -> Iterator[Row]:
        """The data rows after the first ``skip``."""
        return self.rows_factory(skip)

    def describe(self) -> dict[str, Any]:
        """How the file was read, for the batch summary."""
        out: dict[str, Any] = {"format": self.format, "columns": len(self.headers)}
        if self.encoding:
            out["encoding"] = self.encoding
        if self.delimiter:
            out["delimiter"] = self.delimiter
        return out


def unique_headers(raw: list[str | None]) -> list[str]:
    """Header names trimmed; empty ones named ``column_N``; repeats suffixed ``_2``, ``_3``."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(raw, start=1):
        text = " ".join((name or "").split()) or f"column_{i}"
        count = seen.get(text.casefold(), 0) + 1
        seen[text.casefold()] = count
        out.append(text if count == 1 else f"{text}_{count}")
    return out


def cell_text(value: Any) -> str | None:
    """A typed cell as the text an import reads: None for empty, ISO dates, no ``.0``."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
