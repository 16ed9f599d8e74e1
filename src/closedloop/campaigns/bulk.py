"""Bulk reads and writes of extraction: plain driver rows and set-based inserts, no ORM.

An extraction of a million persons reads and writes millions of rows (assignments,
exclusions, queued messages); the ORM's per-row bookkeeping would take most of the time.
Only what differs between the databases is here: the driver's parameter mark and how a time
is written (SQLite stores the text SQLAlchemy reads back, without a zone).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Executable, Table
from sqlalchemy.orm import Session


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


#: persons per statement of :func:`insert_groups`
GROUP_BATCH = 100_000


def insert_groups(
    session: Session,
    table: Table,
    columns: Sequence[str],
    person_column: str,
    groups: Mapping[tuple[Any, ...], Sequence[int]],
) -> None:
    """Insert one row per person of each group: the group's key (values of ``columns``) and the
    person in ``person_column``. Set-based: one ``INSERT … SELECT`` per group over the persons
    passed as one parameter (SQLite: a JSON array read by ``json_each``; PostgreSQL: an array
    read by ``unnest``), so the driver binds a few values per group instead of every column of
    every row (a third less work than ``executemany`` on SQLite)."""
    conn = session.connection()
    names = ", ".join([*columns, person_column])
    if conn.dialect.name == "postgresql":
        marks, persons = ", ".join(["%s"] * len(columns)), "unnest(%s::bigint[])"
    else:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        marks, persons = ", ".join([mark] * len(columns)), f"value FROM json_each({mark})"
    # the names come from our own tables, the values are bound
    sql = f"INSERT INTO {table.name} ({names}) SELECT {marks}, {persons}"
    for key, ids in groups.items():
        for start in range(0, len(ids), GROUP_BATCH):
            part = list(ids[start : start + GROUP_BATCH])
            param: Any = part if conn.dialect.name == "postgresql" else json.dumps(part)
            conn.exec_driver_sql(sql, (*key, param))
