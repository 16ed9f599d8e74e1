"""The import's first stage, reading: every supported format seen as a header and a stream of
rows of text. It imports no other stage.

:func:`open_table` detects the format from the file name (and content for JSON), then the
encoding and delimiter of text files. Each row comes as ``(line_no, values)`` where ``values``
is aligned with ``headers`` and holds strings or None (empty), or is a :class:`RowProblem`
when the record could not be read (a malformed JSON record). Typed cells (Excel, Parquet)
become text the validators read back: ISO dates, integers without ``.0``.
"""

from __future__ import annotations

from pathlib import Path

from closedloop.ingest.read.base import FORMATS, RowProblem, Table, TableError
from closedloop.ingest.read.delimited import open_delimited
from closedloop.ingest.read.excel import open_excel
from closedloop.ingest.read.jsonfile import open_json
from closedloop.ingest.read.parquet import open_parquet

__all__ = ["FORMATS", "RowProblem", "Table", "TableError", "detect_format", "open_table"]

_SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def detect_format(path: Path, name: str | None = None) -> str:
    """The format of ``path`` (``name`` is the original file name of an upload)."""
    suffix = Path(name or path.name).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.lstrip()[:1] in (b"[", b"{"):
        return "json"
    if suffix in {".xls", ".ods", ".numbers"}:
        raise TableError(
            f"{suffix} files are not read: save the sheet as .xlsx or CSV and import that."
        )
    return "csv"


def open_table(
    path: Path,
    *,
    name: str | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Table:
    """Open ``path`` as a :class:`Table`; TableError explains a file that cannot be read."""
    fmt = fmt or detect_format(path, name)
    if fmt not in FORMATS:
        raise TableError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if path.stat().st_size == 0:
        raise TableError("The file is empty.")
    if fmt == "csv":
        return open_delimited(path, encoding=encoding, delimiter=delimiter)
    if fmt == "xlsx":
        return open_excel(path, sheet=sheet)
    if fmt == "json":
        return open_json(path, encoding=encoding)
    return open_parquet(path)
