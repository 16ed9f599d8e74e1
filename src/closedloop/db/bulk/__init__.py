"""One bulk writer for the import and the demo seed, with a small class per store.

Statements are written once with ``?`` placeholders and rows travel as plain tuples; what
differs between SQLite and PostgreSQL (placeholders, value conversion, id allocation, the
write lock, ``COPY``, index and statistics upkeep, connection settings for a long stream) is
in :class:`~closedloop.db.bulk.sqlite.SqliteWriter` and
:class:`~closedloop.db.bulk.postgres.PostgresWriter`. :func:`writer_for` works on a
connection inside its caller's transaction (the import); :func:`open_writer` owns a
connection tuned for a long stream of inserts and commits itself (the demo seed).

Exported: :class:`BulkWriter`, :class:`SqliteWriter`, :class:`PostgresWriter`,
:func:`writer_for`, :func:`open_writer`, :func:`sqlite_value`, ``Row``, ``IN_CHUNK``.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from closedloop.db.bulk.base import IN_CHUNK, BulkWriter, Row
from closedloop.db.bulk.postgres import PostgresWriter
from closedloop.db.bulk.sqlite import SqliteWriter, sqlite_value

__all__ = [
    "IN_CHUNK",
    "BulkWriter",
    "PostgresWriter",
    "Row",
    "SqliteWriter",
    "open_writer",
    "sqlite_value",
    "writer_for",
]

_WRITERS: dict[str, type[BulkWriter]] = {"sqlite": SqliteWriter, "postgresql": PostgresWriter}


def writer_for(conn: Connection) -> BulkWriter:
    """The writer of ``conn``'s store, in the caller's transaction (the caller commits)."""
    return _WRITERS[conn.dialect.name](conn)


def open_writer(engine: Engine, cache_mib: int = 64) -> BulkWriter:
    """A writer on a connection of its own, tuned for a long stream of inserts that skips
    checks the caller guarantees (foreign keys, durability of the last chunk on SQLite);
    every chunk is committed by the caller; :meth:`BulkWriter.close` restores the settings
    and hands the connection back to the pool."""
    writer = _WRITERS[engine.dialect.name](engine.connect(), owned=True)
    try:
        writer.stream_start(cache_mib, checked=False)
    except BaseException:
        writer.conn.close()
        raise
    return writer
