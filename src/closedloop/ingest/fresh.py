"""New rows handed from a validation worker to the writer as JSON, inserted by SQLite itself.

Sending a validated row back from a worker as Python objects costs the main process (the
import's only writer, so its bottleneck) more than inserting it: unpickling some thirty
strings and tuples, then binding each value again for the driver. For rows that are new
(their key was not stored when the chunk was classified) a worker instead writes one JSON
array per table and the main process passes each text, as one value, to
``INSERT … SELECT … FROM json_each(?)``: the rows are read by SQLite's C code and never
become Python objects in the writer. SQLite only (PostgreSQL imports write chunk by chunk).

If a "new" row turns out to be stored when its chunk is written (another chunk or import wrote
the key meanwhile), the chunk's JSON is read back into rows (:func:`decode`) and takes the
ordinary path.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from closedloop.ingest.bulk import Bulk, sqlite_value
from closedloop.ingest.prepare import ADDRESS_COLUMNS, TYPED_COLUMNS, PartyRow

#: ``->>`` (SQLite 3.38) reads a JSON value as an SQL one
AVAILABLE = sqlite3.sqlite_version_info >= (3, 38, 0)
EMAIL = ("is_primary", "address", "address_key")
PHONE = ("is_primary", "e164", "raw", "line_type")


@dataclass(frozen=True)
class Fresh:
    """A chunk's new rows, one JSON array per table; every row starts with its index."""

    count: int
    parties: str  # [index, line, row hash, key, *party columns]
    emails: str  # [index, is primary, address, key]
    phones: str  # [index, is primary, e164, raw, line type]
    addresses: str  # [index, *ADDRESS_COLUMNS]


def encode(rows: list[PartyRow], columns: tuple[str, ...]) -> Fresh:
    """The JSON of ``rows`` (in a worker), values as SQLite stores them."""
    typed = [i for i, c in enumerate(columns) if c in TYPED_COLUMNS]
    parties: list[list[Any]] = []
    emails: list[list[Any]] = []
    phones: list[list[Any]] = []
    addresses: list[list[Any]] = []
    for n, row in enumerate(rows):
        values = [row.fields.get(c) for c in columns]
        for i in typed:
            values[i] = sqlite_value(values[i])
        parties.append([n, row.line_no, row.row_hash, row.key, *values])
        for k, (address, key) in enumerate(row.emails):
            emails.append([n, int(k == 0), address, key])
        for k, (e164, raw, line_type) in enumerate(row.phones):
            phones.append([n, int(k == 0), e164, raw, line_type])
        place = row.address_row()
        if place is not None:
            addresses.append([n, *place])
    return Fresh(len(rows), *(_dumps(t) for t in (parties, emails, phones, addresses)))


def _dumps(rows: list[list[Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def decode(fresh: Fresh, columns: tuple[str, ...]) -> list[PartyRow]:
    """The rows of ``fresh`` back as :class:`PartyRow` objects."""
    rows: list[PartyRow] = []
    for _n, line_no, digest, key, *values in json.loads(fresh.parties):
        fields = {}
        for column, value in zip(columns, values, strict=True):
            if value is not None:
                convert = TYPED_COLUMNS.get(column)
                fields[column] = convert(value) if convert else value
        rows.append(PartyRow(line_no, key, digest, fields))
    for n, _primary, address, key in json.loads(fresh.emails):
        rows[n].emails.append((address, key))
    for n, _primary, e164, raw, line_type in json.loads(fresh.phones):
        rows[n].phones.append((e164, raw, line_type))
    for n, *place in json.loads(fresh.addresses):
        rows[n].address_values = tuple(place)
    return rows


def _select(
    bulk: Bulk,
    base: int,
    first: int,
    names: tuple[str, ...],
    defaults: dict[str, str] | None = None,
) -> str:
    """``SELECT`` list reading ``names`` from the JSON rows' positions ``first``…, the row's
    id (``base`` + its index) first; ``defaults`` replace a null by a literal."""
    picks = [f"{int(base)} + (value ->> 0)"]
    for i, name in enumerate(names):
        pick = f"value ->> {first + i}"
        if defaults and name in defaults:
            pick = f"COALESCE({pick}, {bulk.literal(defaults[name])})"
        picks.append(pick)
    return ", ".join(picks)


def insert(
    bulk: Bulk,
    fresh: Fresh,
    *,
    table: str,
    owner: str,
    columns: tuple[str, ...],
    constants: dict[str, Any],
    point: dict[str, Any],
    entity: str,
    batch_id: int,
) -> list[int]:
    """Insert the rows of ``fresh`` into ``table`` and the contact points' tables, with their
    source records; returns the new ids in row order."""
    ids = bulk.allocate_ids(table, fresh.count)
    if not ids:
        return []
    base = ids[0]
    party = ("id", *columns, "external_id", *constants)
    picks = _select(bulk, base, 4, columns, {"lifecycle_status": "prospect"})
    tail = ", ".join(bulk.literal(v) for v in constants.values())
    run = bulk.conn.exec_driver_sql
    run(
        f"INSERT INTO {table} ({', '.join(party)}) "  # noqa: S608
        f"SELECT {picks}, value ->> 3, {tail} FROM json_each(?)",
        (fresh.parties,),
    )
    for name, names, text in (
        ("emails", EMAIL, fresh.emails),
        ("phones", PHONE, fresh.phones),
        ("addresses", ADDRESS_COLUMNS, fresh.addresses),
    ):
        extra = dict(point) if name != "addresses" else {**point, "is_primary": True}
        head = (owner, *names, *extra)
        constant = ", ".join(bulk.literal(v) for v in extra.values())
        run(
            f"INSERT INTO {name} ({', '.join(head)}) "  # noqa: S608
            f"SELECT {_select(bulk, base, 1, names)}, {constant} FROM json_each(?)",
            (text,),
        )
    run(
        "INSERT INTO source_records (entity, entity_id, row_hash, batch_id, line_no) "  # noqa: S608
        f"SELECT {bulk.literal(entity)}, {base} + (value ->> 0), value ->> 2, {int(batch_id)}, "
        "value ->> 1 FROM json_each(?)",
        (fresh.parties,),
    )
    return ids
