"""SQLite: values converted as SQLAlchemy stores them, ``MAX(id)`` under the write lock,
``BEGIN IMMEDIATE``, PRAGMAs for a long stream, attached spool files and images."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from closedloop.db.bulk.base import BulkWriter, Row

#: the page cache of a connection when no stream runs (the engine's, MiB)
DEFAULT_CACHE_MIB = 64


def sqlite_value(value: Any) -> Any:
    """``value`` as SQLite stores it (what SQLAlchemy would write): timestamps as
    ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC text, dates as ISO text, booleans as 0/1, decimals as
    floats."""
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


class SqliteWriter(BulkWriter):
    """The bulk writer of a SQLite store."""

    name = "sqlite"
    single_writer = True

    def param(self, value: Any) -> Any:
        return sqlite_value(value)

    def params(self, row: Sequence[Any]) -> Row:
        return tuple(sqlite_value(v) for v in row)

    def rows(self, rows: Iterable[Sequence[Any]]) -> list[Row]:
        return [tuple(sqlite_value(v) for v in row) for row in rows]

    def _in(self, sql: str, keys: list[Any]) -> tuple[str, list[Any]]:
        return sql.replace("{in}", "IN (" + ", ".join("?" for _ in keys) + ")"), keys

    def json_object_sql(self) -> str:
        return "json_object(?, ?)"

    def allocate_ids(self, table: str, count: int) -> list[int]:
        if count <= 0:
            return []
        top = self.query(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0]  # noqa: S608
        return list(range(int(top) + 1, int(top) + 1 + count))

    def begin_write(self) -> None:
        self.conn.exec_driver_sql("BEGIN IMMEDIATE")

    def data_version(self) -> int | None:
        return int(self.conn.exec_driver_sql("PRAGMA data_version").scalar_one())

    def _driver(self) -> sqlite3.Connection:
        raw = self.conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        return raw

    def stream_start(self, cache_mib: int, *, checked: bool = True) -> None:
        """Fewer, larger WAL checkpoints (a page changed by several chunks is copied back
        once) and a page cache of ``cache_mib``; unchecked, ``synchronous`` and foreign keys
        off (a crash can then lose the last chunk, never corrupt earlier ones, because every
        chunk is its own transaction; ids and references are generated consistent) and
        index builds sorting through temporary files (flat memory at any size)."""
        run = self.conn.exec_driver_sql
        if not checked:
            run("PRAGMA synchronous=OFF")
            run("PRAGMA foreign_keys=OFF")
            run("PRAGMA temp_store=FILE")
        run("PRAGMA wal_autocheckpoint=10000")
        run(f"PRAGMA cache_size=-{cache_mib * 1024}")
        self.conn.commit()

    def stream_end(self) -> None:
        run = self.conn.exec_driver_sql
        self.conn.rollback()
        attached = run("SELECT name FROM pragma_database_list WHERE name NOT IN ('main', 'temp')")
        for (name,) in attached.all():
            run(f'DETACH DATABASE "{name}"')
        run("PRAGMA synchronous=NORMAL")
        run("PRAGMA foreign_keys=ON")
        run("PRAGMA temp_store=MEMORY")
        run("PRAGMA wal_autocheckpoint=1000")
        run(f"PRAGMA cache_size=-{DEFAULT_CACHE_MIB * 1024}")
        self.conn.commit()

    def stream(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        """``executemany`` on the driver's cursor."""
        cols = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        self._tx()
        cur: Any = self.conn.connection.cursor()
        try:
            cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)  # noqa: S608
        finally:
            cur.close()

    def copy_spool(self, path: str, shapes: dict[str, str]) -> None:
        """``INSERT … SELECT`` from the attached file, run entirely inside SQLite; each shape
        is ``table|variant`` with its columns."""
        self.commit()  # ATTACH is not allowed inside a transaction
        raw = self._driver()
        cur = raw.cursor()
        try:
            cur.execute("ATTACH DATABASE ? AS spool", (path,))
            try:
                for shape, cols in shapes.items():
                    table, name = shape.split("|")[0], shape.replace("|", "__")
                    quoted = ", ".join(f'"{c}"' for c in cols.split(", "))
                    cur.execute(
                        f'INSERT INTO main."{table}" ({quoted}) '  # noqa: S608
                        f'SELECT {quoted} FROM spool."{name}"'
                    )
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                cur.execute("DETACH DATABASE spool")
        finally:
            cur.close()

    def attach_image(self, name: str, image: bytes) -> None:
        """``deserialize`` (allowed inside a transaction) into an in-memory database attached
        as ``name`` (attached once per connection, detached by :meth:`stream_end`)."""
        found = self.conn.exec_driver_sql(
            "SELECT 1 FROM pragma_database_list WHERE name = ?", (name,)
        ).first()
        if found is None:
            self.conn.exec_driver_sql(f"ATTACH DATABASE ':memory:' AS {name}")
        self._driver().deserialize(image, name=name)

    def _plain_indexes(self, tables: list[str]) -> list[Row]:
        marks = ", ".join("?" for _ in tables)
        return self.query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "  # noqa: S608
            f"AND tbl_name IN ({marks}) AND sql NOT LIKE 'CREATE UNIQUE%'",
            tables,
        )

    def _before_index_build(self) -> None:
        self.execute("PRAGMA threads=2")  # the sorter may use a second core

    def finish(self, tables: Iterable[str], analyze: Iterable[str] = ()) -> None:
        """``ANALYZE`` of the whole store (sampled) and a WAL checkpoint; SQLite has no
        sequences to catch up."""
        self.commit()
        cur = self._driver().cursor()
        cur.execute("PRAGMA analysis_limit=1000")
        cur.execute("ANALYZE")
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cur.close()
        self.commit()
