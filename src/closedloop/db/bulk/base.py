"""What every store's bulk writer shares: ``?`` statements, tuples, ids, chunks, indexes.

The import's hot path writes thousands of rows per statement through the driver (SQLAlchemy's
per-row parameter processing costs more than the insert itself), so statements are run with
``exec_driver_sql`` or on the driver's cursor, with values converted here to what each store
reads the way SQLAlchemy writes it (see :meth:`BulkWriter.rows`). Ids are allocated before
the insert so that child rows can be written in the same pass, or assigned by the caller,
which is why a stream can be written without reading anything back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

Row = tuple[Any, ...]
#: Keys per ``IN (...)`` list (SQLite allows 32,766 variables per statement).
IN_CHUNK = 5000


class BulkWriter:
    """Driver-level statements with ``?`` placeholders on one SQLAlchemy connection.

    The subclass of the store holds every line that differs between stores; this class
    holds what is the same.
    """

    #: the SQLAlchemy dialect name
    name = ""
    #: the store has one write lock held by one writer (SQLite): several chunks may share a
    #: transaction, indexes may be built after a bulk load, and a chunk's rows may be copied
    #: from an attached database (:meth:`copy_spool`, :meth:`attach_image`)
    single_writer = False

    def __init__(self, conn: Connection, *, owned: bool = False) -> None:
        self.conn = conn
        #: the writer opened the connection (:func:`~closedloop.db.bulk.open_writer`)
        self.owned = owned

    # -- statements -------------------------------------------------------------------

    def escape(self, text: str) -> str:
        """``text`` as the driver reads it literally in a statement with parameters."""
        return text

    def sql(self, sql: str) -> str:
        """``sql`` with the driver's placeholders instead of ``?``."""
        return sql

    def param(self, value: Any) -> Any:
        """One value converted for the store."""
        return value

    def params(self, row: Sequence[Any]) -> Row:
        """``row`` converted for the store."""
        return tuple(row)

    def rows(self, rows: Iterable[Sequence[Any]]) -> list[Row]:
        """Many rows converted for the store."""
        return [tuple(row) for row in rows]

    def _tx(self) -> None:
        """Begin the connection's transaction if none is open (as ``exec_driver_sql`` would)."""
        if not self.conn.in_transaction():
            self.conn.begin()
            self._begun()

    def _begun(self) -> None:
        """Called when this writer began a transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement."""
        self._tx()
        self.conn.exec_driver_sql(self.sql(sql), self.params(params))

    def executemany(self, sql: str, rows: list[Row], *, converted: bool = False) -> None:
        """One statement for each row of ``rows``."""
        if rows:
            self._tx()
            self.conn.exec_driver_sql(self.sql(sql), rows if converted else self.rows(rows))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a read statement, fetched by the driver's cursor as plain tuples (no
        SQLAlchemy row objects: a re-import fetches one row per line of the file), in the
        connection's transaction as ``exec_driver_sql`` would run it."""
        self._tx()
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(self.sql(sql), self.params(params))
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
        names = [*columns, *(constants or {})]
        marks = [self.sql("?")] * len(columns)
        marks += [self.escape(self.literal(v)) for v in (constants or {}).values()]
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(marks)})"  # noqa: S608
        self._tx()
        self.conn.exec_driver_sql(sql, rows if converted else self.rows(rows))

    def _in(self, sql: str, keys: list[Any]) -> tuple[str, list[Any]]:
        """``sql`` with ``{in}`` standing for ``keys``, and the parameters for them."""
        raise NotImplementedError

    def select_in(
        self, sql: str, head: Sequence[Any], keys: Sequence[Any], tail: Sequence[Any] = ()
    ) -> list[Row]:
        """Run ``sql`` whose ``{in}`` stands for a list of ``keys``, in slices."""
        out: list[Row] = []
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), IN_CHUNK):
            text, part = self._in(sql, keys[start : start + IN_CHUNK])
            out.extend(self.query(text, [*head, *part, *tail]))
        return out

    def json_object_sql(self) -> str:
        """SQL for a JSON object of one key and one text value, both ``?`` parameters."""
        raise NotImplementedError

    # -- ids and transactions ---------------------------------------------------------

    def allocate_ids(self, table: str, count: int) -> list[int]:
        """``count`` fresh ids of ``table`` (call under the write lock on SQLite)."""
        raise NotImplementedError

    def next_id(self, table: str) -> int:
        """The first free id of ``table`` (one past the largest)."""
        rows = self.query(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        return int(rows[0][0]) + 1

    def begin_write(self) -> None:
        """Take the write lock now, so that what this transaction reads cannot change before
        it writes (SQLite); PostgreSQL needs nothing here."""

    def data_version(self) -> int | None:
        """A counter of commits by other connections, where the store has one (SQLite)."""
        return None

    def commit(self) -> None:
        """Commit the current chunk."""
        self.conn.commit()

    def rollback(self) -> None:
        """Drop the current, unfinished chunk."""
        self.conn.rollback()

    # -- a long stream ----------------------------------------------------------------

    def stream_start(self, cache_mib: int, *, checked: bool = True) -> None:
        """Settings for a long stream of writes on this connection (undone by
        :meth:`stream_end`); ``checked=False`` also skips foreign-key checks and the sync
        of each commit where the store allows it."""

    def stream_end(self) -> None:
        """Undo :meth:`stream_start` and what the stream attached (outside a transaction)."""

    def stream(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        """Append ``rows`` (plain values in ``columns`` order, converted by the caller) to
        ``table`` the fastest way the store has."""
        raise NotImplementedError

    def copy_spool(self, path: str, shapes: dict[str, str]) -> None:
        """Copy a chunk's spool database into the store and commit (single-writer stores)."""
        raise NotImplementedError(f"{self.name} cannot attach a spool database")

    def attach_image(self, name: str, image: bytes) -> None:
        """Load a database image as the attached database ``name`` (single-writer stores)."""
        raise NotImplementedError(f"{self.name} cannot attach a database image")

    def _plain_indexes(self, tables: list[str]) -> list[Row]:
        """Name and DDL of each index of ``tables`` that does not enforce uniqueness."""
        raise NotImplementedError

    def suspend_indexes(self, tables: Iterable[str]) -> list[str]:
        """Drop the plain indexes of ``tables`` whose keys arrive in random order.

        An index led by an ``*_id`` column grows at its end (ids are written in order), which
        is cheap; one on names, e-mail keys, phone numbers or dates is updated all over the
        tree, and building it once from sorted data at the end is several times cheaper.
        Unique indexes stay: they guard the data. Returns the DDL to recreate the dropped
        ones; the caller records it before committing the drop.
        """
        ddl = []
        for name, sql in self._plain_indexes(list(tables)):
            leading = str(sql).split("(", 1)[1].split(",")[0].split(")")[0].strip(' "')
            if leading.endswith("_id"):
                continue
            ddl.append(str(sql).replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
            self.execute(f'DROP INDEX "{name}"')
        return ddl

    def _before_index_build(self) -> None:
        """Store settings for building indexes."""

    def restore_indexes(self, ddl: Iterable[str]) -> None:
        """Recreate indexes from their DDL (idempotent) and commit."""
        self._before_index_build()
        for statement in ddl:
            self.execute(statement)
        self.commit()

    def finish(self, tables: Iterable[str], analyze: Iterable[str] = ()) -> None:
        """Bring the sequences of ``tables`` up to the ids written and refresh planner
        statistics (of ``tables`` and ``analyze``, or of the whole store); commit."""
        raise NotImplementedError

    def close(self) -> None:
        """Drop what is uncommitted, undo the stream settings and hand the connection back
        (a writer of :func:`~closedloop.db.bulk.open_writer`)."""
        try:
            self.conn.rollback()
            self.stream_end()
        finally:
            self.conn.close()
