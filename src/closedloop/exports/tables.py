"""Any table (or the persons list, flattened) to CSV, Excel or Parquet, streamed.

Rows are read in batches from a server-side cursor and written as they come, so memory stays
flat whatever the table's size. Text cells that a spreadsheet would run as formulas (starting
with ``= + - @`` TAB or CR) get a leading apostrophe in CSV and Excel files
(:func:`closedloop.ingest.safe.spreadsheet_safe`); Parquet keeps values as they are (it is
not opened by spreadsheets, and its readers need the exact values). Secrets (password and
token hashes) are never exported.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import aliased

from closedloop.contacts.models import Address, Email, Person, Phone
from closedloop.db.base import Base, as_utc
from closedloop.errors import ValidationFailed
from closedloop.ingest.safe import spreadsheet_safe

FORMATS = ("csv", "xlsx", "parquet")
BATCH = 5000
#: Columns never written to a file.
SECRET_COLUMNS = frozenset({"password_hash", "token_hash"})
#: Excel's limit: rows beyond it go to the next sheet.
XLSX_ROWS = 1_048_575
Progress = Callable[[int], None]


def format_of(path: Path, fmt: str | None) -> str:
    """The export format: given, else from the file name (csv by default)."""
    chosen = (fmt or path.suffix.lstrip(".") or "csv").lower()
    if chosen not in FORMATS:
        raise ValidationFailed(f"Unknown export format {chosen!r}; use {', '.join(FORMATS)}.")
    return chosen


def _persons_query() -> tuple[list[str], Select[Any]]:
    """The persons list: identity and the primary email, phone and address of each person."""
    email = (
        select(Email.address)
        .where(Email.person_id == Person.id)
        .order_by(Email.is_primary.desc(), Email.id)
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )
    phone = (
        select(Phone.e164)
        .where(Phone.person_id == Person.id)
        .order_by(Phone.is_primary.desc(), Phone.id)
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )
    first = aliased(Address)
    address = (
        select(first.id)
        .where(first.person_id == Person.id)
        .order_by(first.is_primary.desc(), first.id)
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )
    columns = [
        Person.id, Person.source_system, Person.external_id, Person.lifecycle_status,
        Person.salutation, Person.given_name, Person.family_name, Person.gender,
        Person.birth_date, Person.language, Person.preferred_channel, Person.merged_into_id,
        email.label("email"), phone.label("phone"), Address.line1, Address.line2,
        Address.postal_code, Address.locality, Address.region, Address.country,
        Address.status.label("address_status"), Person.created_at, Person.updated_at,
    ]  # fmt: skip
    stmt = (
        select(*columns)
        .outerjoin(Address, Address.id == address)
        .where(Person.merged_into_id.is_(None))
        .order_by(Person.id)
    )
    return [c.key or c.name for c in stmt.selected_columns], stmt


def query_for(name: str) -> tuple[list[str], Select[Any]]:
    """Column names and statement of a table (or ``persons`` flattened)."""
    if name == "persons":
        return _persons_query()
    table = Base.metadata.tables.get(name)
    if table is None:
        known = ", ".join(sorted(Base.metadata.tables))
        raise ValidationFailed(f"No table {name!r}. Tables: persons (flattened), {known}.")
    cols = [c for c in table.c if c.name not in SECRET_COLUMNS]
    order = list(table.primary_key.columns) or cols[:1]
    return [c.name for c in cols], select(*cols).order_by(*order)


def _rows(engine: Engine, stmt: Select[Any]) -> Iterator[Sequence[Any]]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
        yield from result


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def export_table(
    engine: Engine,
    name: str,
    path: Path,
    fmt: str | None = None,
    *,
    progress: Progress | None = None,
) -> int:
    """Write table ``name`` (or ``persons``) to ``path``; returns the number of rows."""
    chosen = format_of(path, fmt)
    names, stmt = query_for(name)
    rows = _rows(engine, stmt)
    if chosen == "parquet":
        types = [c.type for c in stmt.selected_columns]
        return _parquet(names, rows, path, progress, types)
    writer = _csv if chosen == "csv" else _xlsx
    return writer(names, rows, path, progress)


def _csv(names: list[str], rows: Iterator[Sequence[Any]], path: Path, progress: Any) -> int:
    count = 0
    # UTF-8 with a byte-order mark: Excel then reads accents right; other tools skip it.
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow(names)
        for row in rows:
            out.writerow([spreadsheet_safe(_plain(v)) for v in row])
            count += 1
            if progress is not None and count % BATCH == 0:
                progress(count)
    return count


def _xlsx(names: list[str], rows: Iterator[Sequence[Any]], path: Path, progress: Any) -> int:
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("export")
    sheet.append(names)
    count = in_sheet = 0
    for row in rows:
        if in_sheet == XLSX_ROWS:
            sheet = wb.create_sheet(f"export {count // XLSX_ROWS + 1}")
            sheet.append(names)
            in_sheet = 0
        cells = []
        for value in row:
            if isinstance(value, datetime):
                value = as_utc(value).replace(tzinfo=None)  # Excel has no time zones: UTC
            elif isinstance(value, Decimal):
                value = float(value)
            elif isinstance(value, dict | list):
                value = json.dumps(value, ensure_ascii=False)
            cells.append(spreadsheet_safe(value))
        sheet.append(cells)
        count += 1
        in_sheet += 1
        if progress is not None and count % BATCH == 0:
            progress(count)
    wb.save(path)
    return count


def _arrow_type(sql_type: Any) -> pa.DataType:
    """The Parquet type of a column: numbers, dates and times keep their type."""
    try:
        python_type = sql_type.python_type
    except NotImplementedError:
        return pa.string()
    if python_type is bool:
        return pa.bool_()
    if python_type is int:
        return pa.int64()
    if python_type is float:
        return pa.float64()
    if python_type is Decimal:
        scale = getattr(sql_type, "scale", None)
        precision = getattr(sql_type, "precision", None)
        if scale is not None and precision:
            return pa.decimal128(int(precision), int(scale))
        return pa.string()
    if python_type is datetime:
        return pa.timestamp("us", tz="UTC")
    if python_type is date:
        return pa.date32()
    return pa.string()


def _arrow_value(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_timestamp(typ) and isinstance(value, datetime):
        return as_utc(value)
    if pa.types.is_decimal(typ):
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-typ.scale))
    if pa.types.is_string(typ) and not isinstance(value, str):
        return _plain(value) if isinstance(value, dict | list) else str(_plain(value))
    if pa.types.is_floating(typ):
        return float(value)
    if pa.types.is_date(typ) and isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _parquet(
    names: list[str], rows: Iterator[Sequence[Any]], path: Path, progress: Any, types: list[Any]
) -> int:
    schema = pa.schema([pa.field(n, _arrow_type(t)) for n, t in zip(names, types, strict=True)])
    count = 0
    batch: list[Sequence[Any]] = []
    with pq.ParquetWriter(path, schema) as writer:

        def flush() -> None:
            columns = list(zip(*batch, strict=True)) if batch else [() for _ in names]
            arrays = [
                pa.array([_arrow_value(v, f.type) for v in col], type=f.type)
                for f, col in zip(schema, columns, strict=True)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))

        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) == BATCH:
                flush()
                batch.clear()
                if progress is not None:
                    progress(count)
        if batch or count == 0:
            flush()
    return count
