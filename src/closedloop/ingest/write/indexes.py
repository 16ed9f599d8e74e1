"""Bulk-load mode on SQLite: a big file into a small table builds its indexes afterwards.

Inserting a row into an index on random keys (names, email and phone keys, postal codes)
touches a random B-tree page; over a million rows that is most of the import's SQLite work.
Building the same index once, after the rows are in, sorts the keys and writes each page
once: several times cheaper. So when a file is at least ``Options.bulk_rows`` rows and at least
twice as long as the party table it fills, the indexes on such keys of that table and of its
contact points (none that enforces uniqueness: the key (source, external id) stays) are
dropped before the first write and built again when the import stops, whether it finished or
failed.

Queries stay correct meanwhile (an index changes speed, not answers); searches are slower
until the end. A process killed in between leaves indexes missing: the next import of any
file, the resumed one included, builds them first (:func:`restore`).
"""

from __future__ import annotations

from sqlalchemy import Connection, Index, inspect

from closedloop.contacts import models as _contacts  # noqa: F401  (registers the tables)
from closedloop.db.base import Base
from closedloop.db.bulk import writer_for

#: Leading columns of the deferred indexes: names, email and phone keys, postal codes.
SEARCH_KEYS = frozenset(
    {"family_key", "given_key", "name_key", "registration_number", "address_key", "e164",
     "postal_code"}
)  # fmt: skip


#: The tables whose search indexes are deferred, by party table.
TABLES = {
    "persons": ("persons", "emails", "phones", "addresses"),
    "organisations": ("organisations", "emails", "phones", "addresses"),
}


def deferrable(party_table: str) -> list[Index]:
    """The indexes on random keys (:data:`SEARCH_KEYS`) of ``party_table`` and its contact
    points' tables. Indexes on ids and statuses stay: new rows append to their right edge,
    cheaply, and building them again afterwards would cost more than it saves."""
    tables = Base.metadata.tables
    return [
        index
        for name in TABLES.get(party_table, ())
        for index in sorted(tables[name].indexes, key=lambda i: str(i.name))
        if not index.unique and next(iter(index.columns)).name in SEARCH_KEYS
    ]


def should_defer(conn: Connection, party_table: str, estimated_rows: int, bulk_rows: int) -> bool:
    """Whether an import of about ``estimated_rows`` rows should build indexes afterwards:
    SQLite only, a big file, a table holding fewer than half as many rows."""
    if not writer_for(conn).single_writer or party_table not in TABLES:
        return False
    if estimated_rows < bulk_rows:
        return False
    held = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {party_table}").scalar_one()  # noqa: S608
    return int(held) * 2 <= estimated_rows


def drop(conn: Connection, indexes: list[Index]) -> None:
    """Drop ``indexes`` (in the caller's transaction)."""
    for index in indexes:
        conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{index.name}"')


def missing(conn: Connection, wanted: list[Index]) -> list[Index]:
    """Those of ``wanted`` the store does not have."""
    found = inspect(conn)
    tables = {str(index.table.name) for index in wanted if index.table is not None}
    have = {str(i["name"]) for table in tables for i in found.get_indexes(table)}
    return [index for index in wanted if index.name not in have]


def restore(conn: Connection, party_table: str) -> list[str]:
    """Build the deferrable indexes of ``party_table`` that are missing (in the caller's
    transaction); returns their names."""
    built = missing(conn, deferrable(party_table))
    for index in built:
        index.create(conn, checkfirst=True)
    return [str(index.name) for index in built]
