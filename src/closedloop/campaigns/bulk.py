"""Bulk reads and writes of extraction: plain driver rows and ``executemany``, no ORM.

An extraction of a million persons reads and writes millions of rows (assignments,
exclusions, queued messages); the ORM's per-row bookkeeping would take most of the time.
Only what differs between the databases is here: the driver's parameter mark and how a time
is written (SQLite stores the text SQLAlchemy reads back, without a zone).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Executable, Table
from sqlalchemy.orm import Session

BATCH = 10_000


def rows(session: Session, stmt: Executable) -> Iterator[Any]:
    """The rows of ``stmt`` on the session's connection (inside its transaction), as the
    driver returns them: plain tuples, with no result processing (SQLite gives a time
    computed by an expression as text)."""
    result = session.connection().execute(stmt)
    try:  # one fetch from the driver's cursor: SQLAlchemy's row objects cost more than the query
        return iter(result.cursor.fetchall()) if result.cursor is not None else iter(())
    finally:
        result.close()


def db_time(session: Session, value: datetime) -> Any:
    """``value`` (aware) as the driver should receive it for a DateTime column."""
    if session.connection().dialect.name == "sqlite":
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], values: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``values`` (tuples in the order of ``columns``) into ``table``, in batches."""
    if not values:
        return
    conn = session.connection()
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":  # COPY: several times faster than executemany
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as cp:
            for row in values:
                cp.write_row(row)
        return
    marks = ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * len(columns))
    # the names come from our own tables, the values are bound
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608
    for start in range(0, len(values), BATCH):
        conn.exec_driver_sql(sql, list(values[start : start + BATCH]))
