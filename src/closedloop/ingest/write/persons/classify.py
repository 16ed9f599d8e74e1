"""What classifying a chunk of persons or organisations works with: where a kind is stored,
keyed rows, what the store holds for their keys (:func:`lookup`), and the classified chunk
(:class:`Work`), whose values may stay packed (:mod:`closedloop.ingest.read.blob`) until a worker
validates them (:func:`chosen`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from closedloop.db.bulk import BulkWriter
from closedloop.ingest.read import blob
from closedloop.ingest.read.blob import Blob
from closedloop.ingest.validate.context import Context
from closedloop.ingest.validate.prepare import ORGANISATION_FIELDS, PERSON_FIELDS


@dataclass(frozen=True)
class PartySpec:
    """Where a party kind is stored."""

    table: str
    entity: str
    owner: str
    columns: tuple[str, ...]
    contact_kind: str


PERSONS = PartySpec(
    "persons", "person", "person_id", (*PERSON_FIELDS, "given_key", "family_key"), "private"
)
ORGANISATIONS = PartySpec(
    "organisations", "organisation", "organisation_id", (*ORGANISATION_FIELDS, "name_key"), "work"
)
EMAIL_COLUMNS = ("address", "address_key")
PHONE_COLUMNS = ("e164", "raw", "line_type")


#: A keyed row: (line, key, hash, values). The values (``list[str | None]``) are None in
#: the main process when they stayed in the read-ahead's blob (:class:`Work`).
Item = tuple[int, str, str, Any]


@dataclass(slots=True)
class Stored:
    """What the store holds for one key: the record and the last row of this source."""

    id: int
    has_record: bool
    row_hash: str | None
    batch_id: int | None
    line_no: int | None


@dataclass
class Work:
    """A classified chunk: rows to validate, rows unchanged by their hash, what is stored.

    A chunk keyed by the read-ahead process (:mod:`closedloop.ingest.engine.readahead`) holds its
    items without their values: those stay packed in ``blob`` (:mod:`closedloop.ingest.read.blob`),
    which goes to a worker as it is, and ``positions`` says where each item of ``todo`` is."""

    stored: dict[str, Stored]
    todo: list[Item] = field(default_factory=list)
    same: list[Item] = field(default_factory=list)
    blob: Blob | None = None
    positions: list[int] = field(default_factory=list)
    keyed: list[Item] = field(default_factory=list)

    def payload(self) -> list[Item] | tuple[list[Item], Blob, list[int]]:
        """What a worker needs to validate ``todo``: the items, or with the blob."""
        return self.todo if self.blob is None else (self.todo, self.blob, self.positions)

    def with_values(self, items: list[Item]) -> list[Item]:
        """``items`` with their values (unpacked when they were left in the blob)."""
        if self.blob is None:
            return items
        where = {item[0]: n for n, item in enumerate(self.keyed)}
        return chosen((items, self.blob, [where[item[0]] for item in items]))


def chosen(payload: list[Item] | tuple[list[Item], Blob, list[int]]) -> list[Item]:
    """The items a :meth:`Work.payload` stands for, with their values (in a worker)."""
    if isinstance(payload, list):
        return payload
    items, packed, positions = payload
    values = blob.unpack(packed, positions)
    return [(i[0], i[1], i[2], v) for i, v in zip(items, values, strict=True)]


def lookup(ctx: Context, bulk: BulkWriter, spec: PartySpec, keys: list[str]) -> dict[str, Stored]:
    """The stored records of ``keys`` from the import's source, with their source records."""
    source = ctx.source
    sql = (
        f"SELECT p.external_id, p.id, sr.entity_id, sr.row_hash, sr.batch_id, "  # noqa: S608
        f"sr.line_no FROM {spec.table} p LEFT JOIN source_records sr ON sr.entity = ? "
        "AND sr.entity_id = p.id WHERE p.source_system = ? AND p.external_id {in}"
    )
    rows = bulk.select_in(sql, [spec.entity, source], keys)
    return {r[0]: Stored(r[1], r[2] is not None, r[3], r[4], r[5]) for r in rows}
