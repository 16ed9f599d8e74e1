"""Connect Ibis to the database behind a SQLAlchemy engine, and bulk-write result rows.

The analytics run on the store's own engine: :func:`ibis_connection` opens an Ibis backend on
the same SQLite file or PostgreSQL database as the engine (a connection of its own, so long
reads never hold the ORM session's transaction). :func:`bulk_insert` writes many rows through
the session's own connection with the driver's fastest path: ``executemany`` on SQLite,
``COPY`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from closedloop.errors import DomainError


@contextmanager
def ibis_connection(engine: Engine) -> Iterator[Any]:
    """An Ibis backend on the database of ``engine`` (SQLite or PostgreSQL), closed afterwards."""
    import ibis  # loaded by the analyses, not by whoever imports bulk_insert

    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ":memory:"
        if database == ":memory:":
            raw = engine.raw_connection()
            try:
                yield ibis.sqlite.from_connection(raw.driver_connection)
            finally:
                raw.close()
            return
        con = ibis.sqlite.connect(database)
        con.raw_sql("PRAGMA temp_store=MEMORY").close()
        con.raw_sql("PRAGMA cache_size=-262144").close()
        con.raw_sql("PRAGMA threads=2").close()
    elif backend == "postgresql":
        options = {k: v for k, v in url.query.items() if isinstance(v, str)}
        con = ibis.postgres.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database,
            **options,
        )
    else:
        raise DomainError(f"Scoring runs on SQLite or PostgreSQL, not on {backend}.")
    try:
        yield con
    finally:
        con.disconnect()


def bulk_insert(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` inside the session's
    transaction; returns how many were written. Values must be plain Python values."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None
    names = ", ".join(columns)
    count = 0
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor()
        with cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    marks = ", ".join("?" for _ in columns)
    cursor = driver.cursor()
    try:
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 50_000:
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)  # noqa: S608
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)  # noqa: S608
            count += len(batch)
    finally:
        cursor.close()
    return count


__all__ = ["bulk_insert", "ibis_connection"]
