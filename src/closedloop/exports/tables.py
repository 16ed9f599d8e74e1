"""Any table (or the persons list, flattened) to CSV, Excel or Parquet, streamed.

Rows are read in batches from a server-side cursor and written as they come, so memory stays
flat whatever the table's size. Text cells that a spreadsheet would run as formulas (starting
with ``= + - @`` TAB or CR; a phone number such as ``+33557159639`` is not one) get a leading
apostrophe in CSV and Excel files (:func:`closedloop.ingest.service.safe.spreadsheet_safe`); Parquet
keeps values as they are (it is not opened by spreadsheets, and its readers need the exact
values). Secrets (password and token hashes) are never exported. pyarrow and openpyxl load with
the export that needs them (the command line starts without them).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import aliased

from closedloop.contacts.models import Address, Email, Person, Phone
from closedloop.db.base import Base, as_utc
from closedloop.errors import ValidationFailed
from closedloop.ingest import spreadsheet_safe

if TYPE_CHECKING:  # pyarrow and openpyxl load with the export that needs them
    import pyarrow as pa

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


def _rows_of(engine: Engine, stmt: Select[Any], ids: Sequence[int]) -> Iterator[Sequence[Any]]:
    with engine.connect() as conn:
        for start in range(0, len(ids), BATCH):
            chunk = list(ids[start : start + BATCH])
            yield from conn.execute(stmt.where(Person.id.in_(chunk)))


def export_persons(
    engine: Engine,
    person_ids: Sequence[int],
    path: Path,
    fmt: str | None = None,
    *,
    progress: Progress | None = None,
) -> int:
    """Write the persons list (as ``export persons``) of the given persons only, in the order
    given (a segment's members, sorted by id); returns the number of rows."""
    chosen = format_of(path, fmt)
    names, stmt = _persons_query()
    rows = _rows_of(engine, stmt, person_ids)
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
    from openpyxl import Workbook

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
    import pyarrow as pa

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


def _arrow_converter(typ: pa.DataType) -> Callable[[Any], Any]:
    """The function that turns a stored value into one of Parquet type ``typ`` (chosen once
    per column, not per value)."""
    import pyarrow as pa

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if is_timestamp and isinstance(value, datetime):
            return as_utc(value)
        if is_decimal:
            return Decimal(str(value)).quantize(quantum)
        if is_string and not isinstance(value, str):
            return _plain(value) if isinstance(value, dict | list) else str(_plain(value))
        if is_floating:
            return float(value)
        if is_date and isinstance(value, str):
            return date.fromisoformat(value[:10])
        return value

    is_timestamp, is_decimal = pa.types.is_timestamp(typ), pa.types.is_decimal(typ)
    is_string, is_floating = pa.types.is_string(typ), pa.types.is_floating(typ)
    is_date = pa.types.is_date(typ)
    quantum = Decimal(1).scaleb(-typ.scale) if is_decimal else Decimal(1)
    return convert


def _parquet(
    names: list[str], rows: Iterator[Sequence[Any]], path: Path, progress: Any, types: list[Any]
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(n, _arrow_type(t)) for n, t in zip(names, types, strict=True)])
    converters = [_arrow_converter(f.type) for f in schema]
    count = 0
    batch: list[Sequence[Any]] = []
    with pq.ParquetWriter(path, schema) as writer:

        def flush() -> None:
            columns = list(zip(*batch, strict=True)) if batch else [() for _ in names]
            arrays = [
                pa.array([convert(v) for v in col], type=f.type)
                for f, convert, col in zip(schema, converters, columns, strict=True)
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
