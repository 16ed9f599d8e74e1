"""Bulk statements on one connection: ``executemany`` with plain tuples, ids allocated ahead.

The import's hot path writes thousands of rows per statement through the driver (SQLAlchemy's
per-row parameter processing costs more than the insert itself). Values are converted here to
what each store reads the same way SQLAlchemy writes it: on SQLite, timestamps as
``YYYY-MM-DD HH:MM:SS.ffffff`` UTC text, dates as ISO text, booleans as 0/1, decimals as
floats; PostgreSQL takes the Python values as they are.

Ids are allocated before the insert (``MAX(id)`` under the write lock on SQLite, the table's
sequence on PostgreSQL) so that child rows can be written in the same pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

Row = tuple[Any, ...]
#: Keys per ``IN (...)`` list (SQLite allows 32,766 variables per statement).
IN_CHUNK = 5000


def sqlite_value(value: Any) -> Any:
    """``value`` as SQLite stores it (what SQLAlchemy would write)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is float:
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return int(value)
    return value


class Bulk:
    """Driver-level statements with ``?`` placeholders on every store."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"

    def _sql(self, sql: str) -> str:
        return sql if self.sqlite else sql.replace("%", "%%").replace("?", "%s")

    def param(self, value: Any) -> Any:
        """One value converted for the store."""
        return sqlite_value(value) if self.sqlite else value

    def params(self, row: Sequence[Any]) -> Row:
        """``row`` converted for the store."""
        if self.sqlite:
            return tuple(sqlite_value(v) for v in row)
        return tuple(row)

    def rows(self, rows: Iterable[Sequence[Any]]) -> list[Row]:
        """Many rows converted for the store."""
        if self.sqlite:
            return [tuple(sqlite_value(v) for v in row) for row in rows]
        return [tuple(row) for row in rows]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement."""
        self.conn.exec_driver_sql(self._sql(sql), self.params(params))

    def executemany(self, sql: str, rows: list[Row], *, converted: bool = False) -> None:
        """One statement for each row of ``rows``."""
        if rows:
            self.conn.exec_driver_sql(self._sql(sql), rows if converted else self.rows(rows))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a read statement, fetched by the driver's cursor as plain tuples (no
        SQLAlchemy row objects: a re-import fetches one row per line of the file), in the
        connection's transaction as ``exec_driver_sql`` would run it."""
        if not self.conn.in_transaction():
            self.conn.begin()
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(self._sql(sql), self.params(params))
            return [tuple(r) for r in cursor.fetchall()]
        finally:
            cursor.close()

    def literal(self, value: Any) -> str:
        """``value`` written as an SQL literal (NULL, a number, a boolean, a quoted string)."""
        value = self.param(value)
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, datetime):
            value = value.isoformat(sep=" ")
        text = str(value)
        if "\x00" in text:
            raise ValueError("a NUL character cannot be written as an SQL literal")
        return "'" + text.replace("'", "''") + "'"

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: list[Row],
        *,
        converted: bool = False,
        constants: dict[str, Any] | None = None,
    ) -> None:
        """``INSERT INTO table (columns) VALUES (...)`` for each row; ``constants`` are the
        same for every row and are written into the statement instead of bound per row (each
        bound value costs the driver time, and a chunk's rows share source, batch and time)."""
        if not rows:
            return
        mark = "?" if self.sqlite else "%s"
        names = [*columns, *(constants or {})]
        marks = [mark] * len(columns)
        for value in (constants or {}).values():
            text = self.literal(value)
            marks.append(text if self.sqlite else text.replace("%", "%%"))
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(marks)})"  # noqa: S608
        self.conn.exec_driver_sql(sql, rows if converted else self.rows(rows))

    def select_in(
        self, sql: str, head: Sequence[Any], keys: Sequence[Any], tail: Sequence[Any] = ()
    ) -> list[Row]:
        """Run ``sql`` whose ``{in}`` stands for a list of ``keys``, in slices."""
        out: list[Row] = []
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), IN_CHUNK):
            part = keys[start : start + IN_CHUNK]
            if self.sqlite:
                text = sql.replace("{in}", "IN (" + ", ".join("?" for _ in part) + ")")
                out.extend(self.query(text, [*head, *part, *tail]))
            else:
                text = sql.replace("{in}", "= ANY(?)")
                out.extend(self.query(text, [*head, list(part), *tail]))
        return out

    def allocate_ids(self, table: str, count: int) -> list[int]:
        """``count`` fresh ids of ``table`` (call under the write lock on SQLite)."""
        if count <= 0:
            return []
        if self.sqlite:
            top = self.query(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0]  # noqa: S608
            return list(range(int(top) + 1, int(top) + 1 + count))
        rows = self.query(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "  # noqa: S608
            "FROM generate_series(1, ?)",
            [count],
        )
        return [int(r[0]) for r in rows]

    def begin_write(self) -> None:
        """Take the write lock now (SQLite ``BEGIN IMMEDIATE``), so that what this transaction
        reads cannot change before it writes; PostgreSQL needs nothing here."""
        if self.sqlite:
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")
