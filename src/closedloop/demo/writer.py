"""Bulk writer: plain DBAPI ``executemany`` on SQLite, ``COPY FROM STDIN`` on PostgreSQL.

Rows are tuples of plain values that both stores read the same way: ints (0/1 for booleans),
floats, strings for dates (``YYYY-MM-DD``) and timestamps (``YYYY-MM-DD HH:MM:SS.ffffff``,
UTC, SQLAlchemy's SQLite storage format), JSON as text, and ``None``. Ids are assigned by the
caller, which is why the writer can stream without reading anything back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine

Row = tuple[Any, ...]

#: Tables whose ``id`` the demo assigns itself (and whose sequences PostgreSQL must catch up).
ID_TABLES = (
    "import_batches", "households", "organisations", "persons", "emails", "phones",
    "addresses", "relationships", "identifiers", "attribute_definitions", "attribute_choices",
    "attribute_values", "consent_events", "suppressions", "product_categories", "products",
    "orders", "order_lines", "offers", "campaigns", "waves", "cells", "campaign_members",
    "communications", "responses", "duplicate_truth",
)  # fmt: skip


class BulkWriter:
    """One raw connection to the store, tuned for a long stream of inserts.

    On SQLite it switches ``synchronous`` off and enlarges the page cache while it is open
    (both restored on :meth:`close`); a crash can then lose the last chunk, never corrupt
    earlier ones, because every chunk is its own transaction.
    """

    def __init__(self, engine: Engine, cache_mib: int = 64) -> None:
        self.dialect = engine.dialect.name
        self._fairy = engine.raw_connection()
        conn = self._fairy.driver_connection
        assert conn is not None
        self._conn: Any = conn
        self._fresh = True
        if self.dialect == "sqlite":
            self._conn.commit()
            cur = self._conn.cursor()
            cur.execute("PRAGMA synchronous=OFF")
            # Ids and references are generated consistent; checking each one costs a lookup.
            cur.execute("PRAGMA foreign_keys=OFF")
            cur.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")
            # Index builds sort through temporary files, not memory: flat memory at any size.
            cur.execute("PRAGMA temp_store=FILE")
            cur.execute("PRAGMA wal_autocheckpoint=10000")  # fewer, larger checkpoints
            cur.close()

    def _sql(self, sql: str) -> str:
        if self.dialect == "sqlite":
            return sql
        return sql.replace("%", "%%").replace("?", "%s")

    def _begin(self, cur: Any) -> None:
        if self._fresh and self.dialect == "postgresql":
            # Timestamps are written as UTC text; LOCAL keeps the pooled session unchanged.
            cur.execute("SET LOCAL TIME ZONE 'UTC'")
        self._fresh = False

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a read statement and return every row."""
        cur = self._conn.cursor()
        try:
            self._begin(cur)
            cur.execute(self._sql(sql), tuple(params))
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one write statement (``?`` placeholders on every store)."""
        cur = self._conn.cursor()
        try:
            self._begin(cur)
            cur.execute(self._sql(sql), tuple(params))
        finally:
            cur.close()

    def next_id(self, table: str) -> int:
        """The first free id of ``table`` (one past the largest)."""
        rows = self.query(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        return int(rows[0][0]) + 1

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        """Append ``rows`` (tuples in ``columns`` order) to ``table``."""
        cols = ", ".join(f'"{c}"' for c in columns)
        cur = self._conn.cursor()
        try:
            self._begin(cur)
            if self.dialect == "postgresql":
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in columns)
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)  # noqa: S608
        finally:
            cur.close()

    def copy_spool(self, path: str, shapes: dict[str, str]) -> None:
        """Copy a chunk's spool database (see ``pipeline``) into the store and commit.

        SQLite only: ``INSERT … SELECT`` from the attached file runs entirely inside SQLite.
        """
        self.commit()  # ATTACH is not allowed inside a transaction
        cur = self._conn.cursor()
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
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                raise
            finally:
                cur.execute("DETACH DATABASE spool")
        finally:
            cur.close()

    def commit(self) -> None:
        """Commit the current chunk."""
        self._conn.commit()
        self._fresh = True

    def rollback(self) -> None:
        """Drop the current, unfinished chunk."""
        self._conn.rollback()
        self._fresh = True

    def suspend_indexes(self, tables: Iterable[str]) -> list[str]:
        """Drop the plain indexes of ``tables`` whose keys arrive in random order.

        An index led by an ``*_id`` column grows at its end (ids are written in order), which
        is cheap; one on names, e-mail keys, phone numbers or dates is updated all over the
        tree, and building it once from sorted data at the end is several times cheaper.
        Unique indexes stay: they guard the data. Returns the DDL to recreate the dropped
        ones; the caller records it before committing the drop.
        """
        names = list(tables)
        if self.dialect == "postgresql":
            rows = self.query(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = ANY(?) AND indexdef NOT LIKE 'CREATE UNIQUE%'",
                (names,),
            )
        else:
            marks = ", ".join("?" for _ in names)
            rows = self.query(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "  # noqa: S608
                f"AND tbl_name IN ({marks}) AND sql NOT LIKE 'CREATE UNIQUE%'",
                names,
            )
        ddl = []
        for name, sql in rows:
            leading = str(sql).split("(", 1)[1].split(",")[0].split(")")[0].strip(' "')
            if leading.endswith("_id"):
                continue
            ddl.append(str(sql).replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
            self.execute(f'DROP INDEX "{name}"')
        return ddl

    def restore_indexes(self, ddl: Iterable[str]) -> None:
        """Recreate indexes from their DDL (idempotent) and commit."""
        if self.dialect == "sqlite":
            self.execute("PRAGMA threads=2")  # the sorter may use a second core
        for statement in ddl:
            self.execute(statement)
        self.commit()

    def finish(self, tables: Iterable[str]) -> None:
        """Bring sequences up to the ids written and refresh planner statistics."""
        tables = list(tables)
        if self.dialect == "postgresql":
            for table in tables:
                self.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                )
            for table in (*tables, "consent_current"):
                self.execute(f"ANALYZE {table}")
            self.commit()
        else:
            self.commit()
            cur = self._conn.cursor()
            cur.execute("PRAGMA analysis_limit=1000")
            cur.execute("ANALYZE")
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.close()
            self.commit()

    def close(self) -> None:
        """Restore the connection's settings and hand it back to the pool."""
        try:
            self._conn.rollback()
            if self.dialect == "sqlite":
                cur = self._conn.cursor()
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA cache_size=-65536")
                cur.execute("PRAGMA temp_store=MEMORY")
                cur.execute("PRAGMA wal_autocheckpoint=1000")
                cur.close()
        finally:
            self._fairy.close()
