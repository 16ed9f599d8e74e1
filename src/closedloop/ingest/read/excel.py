"""Excel .xlsx in read-only (streaming) mode: values, not formulas; merged cells filled.

Cells are read twice in step, once for the values Excel saved and once for the formulas, so
that a formula whose value was never saved (a file written by a program that does not
calculate) is reported on its row instead of being read as empty. A merged range gives its
value to every cell it covers (a customer group label merged over several rows applies to
each of them). The header is the first row with at least two filled cells.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import iterparse

from closedloop.ingest.read.base import Row, Table, TableError, cell_text, unique_headers

#: Marks a cell whose formula has no saved value; the row is rejected with this reason.
FORMULA_PREFIX = "\x00formula:"
_NS_MERGE = re.compile(r"\}mergeCell$")


def _merged_ranges(path: Path, sheet_path: str | None) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of each merged range of the sheet."""
    from openpyxl.utils.cell import range_boundaries  # openpyxl loads when a workbook is read

    if not sheet_path:
        return []
    out: list[tuple[int, int, int, int]] = []
    with zipfile.ZipFile(path) as archive, archive.open(sheet_path.lstrip("/")) as fh:
        # Expat >= 2.4.1 (Python 3.11 ships 2.5) refuses entity-expansion bombs; no DTD is read.
        for _event, elem in iterparse(fh, events=("end",)):  # noqa: S314
            if _NS_MERGE.search(elem.tag) and elem.get("ref"):
                bounds = range_boundaries(str(elem.get("ref")))
                if None not in bounds:
                    out.append(bounds)  # type: ignore[arg-type]
            elem.clear()
    return out


def _open_sheet(path: Path, sheet: str | None, data_only: bool) -> tuple[Any, Any]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=data_only)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise TableError(f"This is not a readable .xlsx workbook ({exc}).") from exc
    if sheet is not None:
        if sheet not in wb.sheetnames:
            wb.close()
            raise TableError(f"No sheet {sheet!r}; the workbook has {', '.join(wb.sheetnames)}.")
        return wb, wb[sheet]
    return wb, wb.worksheets[0]


def open_excel(path: Path, *, sheet: str | None) -> Table:
    """Open the first sheet (or ``sheet``) of an .xlsx workbook."""
    wb, ws = _open_sheet(path, sheet, data_only=True)
    try:
        merged = _merged_ranges(path, getattr(ws, "_worksheet_path", None))
    except (KeyError, zipfile.BadZipFile):
        merged = []
    header_no, headers = 0, []
    for row_no, values in enumerate(ws.iter_rows(values_only=True), start=1):
        filled = [v for v in values if cell_text(v) is not None]
        if len(filled) >= 2 or (filled and row_no >= 10):
            header_no, headers = row_no, unique_headers([cell_text(v) for v in values])
            break
    total = ws.max_row
    wb.close()
    if not headers:
        raise TableError("The sheet has no header row (it is empty).")
    # Trailing unnamed columns (column_N) with no data are dropped by the row reader.
    state = {"row": 0}

    def rows(skip: int) -> Iterator[Row]:
        vwb, vws = _open_sheet(path, sheet, data_only=True)
        fwb, fws = _open_sheet(path, sheet, data_only=False)
        width = len(headers)
        tops: dict[tuple[int, int], str | None] = {}
        try:
            pairs = zip(
                vws.iter_rows(values_only=True), fws.iter_rows(values_only=True), strict=False
            )
            seen = 0
            for row_no, (vals, forms) in enumerate(pairs, start=1):
                state["row"] = row_no
                if row_no <= header_no:
                    continue
                out: list[str | None] = []
                for col, value in enumerate(vals, start=1):
                    text = cell_text(value)
                    formula = forms[col - 1] if col - 1 < len(forms) else None
                    if text is None and isinstance(formula, str) and formula.startswith("="):
                        text = FORMULA_PREFIX + formula
                    out.append(text)
                _fill_merged(out, row_no, merged, tops)
                if not any(v is not None for v in out):
                    continue
                seen += 1
                if seen <= skip:
                    continue
                if len(out) < width:
                    out.extend([None] * (width - len(out)))
                elif len(out) > width and not any(v is not None for v in out[width:]):
                    del out[width:]
                yield row_no, out
        finally:
            vwb.close()
            fwb.close()

    def progress() -> float:
        return min(1.0, state["row"] / total) if total else 0.0

    return Table(
        format="xlsx",
        headers=headers,
        rows_factory=rows,
        progress=progress,
        total_rows=max(0, total - header_no) if total else None,
    )


def _fill_merged(
    out: list[str | None],
    row_no: int,
    merged: list[tuple[int, int, int, int]],
    tops: dict[tuple[int, int], str | None],
) -> None:
    """Give every cell of a merged range the value of its top-left cell."""
    for min_col, min_row, max_col, max_row in merged:
        if not min_row <= row_no <= max_row:
            continue
        if row_no == min_row:
            tops[(min_row, min_col)] = out[min_col - 1] if min_col - 1 < len(out) else None
        value = tops.get((min_row, min_col))
        if len(out) < max_col:
            out.extend([None] * (max_col - len(out)))
        for col in range(min_col, max_col + 1):
            if out[col - 1] is None:
                out[col - 1] = value
