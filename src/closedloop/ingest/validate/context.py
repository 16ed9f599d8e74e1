"""What one import run knows: options, mapping, batch, catalogue; and a chunk's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from hashlib import blake2b
from typing import Any

from closedloop.contacts.validation import visible
from closedloop.ingest.map.fields import Field, Kind
from closedloop.ingest.map.mapping import Mapping, MappingRequest, Target
from closedloop.ingest.read.blob import UNIT
from closedloop.ingest.read.excel import FORMULA_PREFIX
from closedloop.ingest.validate.convert import READERS, AttributeDef, Reader

#: Part of every row hash: raise it when validation rules change, so that the next import
#: of an unchanged file validates every row again.
RULES_VERSION = "1"
#: Fields and types whose values rarely repeat: not worth remembering.
_UNIQUE_TYPES = frozenset({"key", "full_name", "datetime", "amount", "decimal"})
_UNIQUE_FIELDS = frozenset({"line1", "line2", "proof_text", "name", "registration_number"})
#: The longest value kept in a reject (a 10 MB field is shown cut).
REJECT_VALUE_CHARS = 200
#: The counts every batch reports (a batch written by other means, such as the demo
#: generator's, is shown with these at 0 beside its own).
#: ``kept_with_warnings``: rows stored without one or more of their values (each left out
#: with a warning naming line, field, value and reason), counted apart from ``rejected``.
COUNT_KEYS = (
    "rows",
    "new",
    "updated",
    "unchanged",
    "kept_with_warnings",
    "rejected",
    "duplicates",
    "empty",
)


@dataclass
class Options:
    """How to run an import. Every field has a command-line option of the same name."""

    source: str = "import"
    dry_run: bool = False
    date_order: str = "dmy"
    default_country: str | None = None
    default_currency: str | None = None
    chunk_size: int = 5000
    fmt: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    filename: str | None = None
    mapping_name: str | None = None
    mapping: MappingRequest = field(default_factory=MappingRequest)
    created_by: str | None = None
    resume: bool = True
    summary_rejects: int = 1000
    #: validation processes; None: one per core (at most 4) for files over 4 MiB
    workers: int | None = None
    #: SQLite: rows per transaction (several chunks); a killed import redoes at most these.
    #: A transaction is also committed after :data:`~closedloop.ingest.engine.chunks.HOLD_SECONDS`.
    commit_rows: int = 200_000
    #: SQLite: a file of at least this many rows into a table holding fewer than half as
    #: many builds the secondary indexes afterwards (:mod:`closedloop.ingest.write.indexes`)
    bulk_rows: int = 100_000
    #: the worker job running the import (web and API), recorded on its batch
    job_id: int | None = None


@dataclass
class Reject:
    """One refused value: where, what and why."""

    line_no: int
    field: str | None
    value: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line_no,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
        }


@dataclass
class Context:
    """Everything a chunk needs; built once per run."""

    kind: Kind
    mapping: Mapping
    batch_id: int
    source: str
    dry_run: bool
    date_order: str
    default_country: str
    default_currency: str
    now: datetime
    locale: str = "en"
    attributes: dict[str, AttributeDef] = field(default_factory=dict)
    #: Dry runs write nothing, so they remember the keys seen (key → line) here.
    seen: dict[str, int] = field(default_factory=dict)
    fields: dict[str, int] = field(default_factory=dict)
    #: column → (index, target) of the columns mapped to attributes and identifiers
    extensions: dict[str, tuple[int, Target]] = field(default_factory=dict)
    #: (field, column index, spec, reader) of each mapped field; reader None for the fields
    #: read with the whole row (email, phone)
    readers: list[tuple[str, int, Field, Reader | None]] = field(default_factory=list)
    salt: bytes = b""
    #: field → (raw value → value read, or the refusal) for the fields worth remembering
    #: (:func:`closedloop.ingest.validate.prepare.prepare_party`); per process, never pickled
    memos: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._derive()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["readers"] = []  # functions: rebuilt on arrival (a worker process)
        state["memos"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._derive()

    def _derive(self) -> None:
        self.readers = []
        self.memos = {}
        self.fields = self.mapping.fields()
        for name, i in self.fields.items():
            spec = self.kind.field(name)
            if spec is not None:
                reader = None if spec.type in ("email", "phone") else READERS[spec.type]
                self.readers.append((name, i, spec, reader))
                unique = spec.type in _UNIQUE_TYPES or name in _UNIQUE_FIELDS
                if reader is not None and not unique:
                    self.memos[name] = {}
        self.extensions = {
            col: (i, t)
            for i, (col, t) in enumerate(self.mapping.columns.items())
            if t.kind in ("attribute", "identifier")
        }
        self.salt = f"{RULES_VERSION}|{self.date_order}|{self.default_country}|".encode() + (
            self.mapping.signature().encode()
        )


def _shown(value: str | None) -> str | None:
    if value is not None and not value.isprintable():
        value = visible(value)
    if value is not None and len(value) > REJECT_VALUE_CHARS:
        return value[:REJECT_VALUE_CHARS] + f"… ({len(value):,} characters)"
    return value


@dataclass
class ChunkResult:
    """What a chunk did: counts, rejects and warnings (and, once written, nothing else).

    A *reject* refuses its whole row; a *warning* reports a value left out of a row that
    was kept (an invalid phone, an impossible birth date…).
    """

    counts: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    rejected_lines: set[int] = field(default_factory=set)
    #: ids of the records the chunk created or changed (for the ``persons_imported`` hook)
    touched: list[int] = field(default_factory=list)
    warnings: list[Reject] = field(default_factory=list)
    warned_lines: set[int] = field(default_factory=set)

    def merged(self, other: ChunkResult) -> ChunkResult:
        """A new result with the counts, rejects and warnings of both."""
        out = ChunkResult(dict(self.counts), [*self.rejects, *other.rejects])
        out.rejected_lines = self.rejected_lines | other.rejected_lines
        out.touched = [*self.touched, *other.touched]
        out.warnings = [*self.warnings, *other.warnings]
        out.warned_lines = self.warned_lines | other.warned_lines
        for key, n in other.counts.items():
            out.counts[key] = out.counts.get(key, 0) + n
        return out

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def reject(self, line_no: int, field_name: str | None, value: str | None, reason: str) -> None:
        """Refuse a row (each call adds one reason; the row is counted once). Warnings the
        row had become reasons of its reject: it was not kept after all."""
        if line_no in self.warned_lines:
            self.warned_lines.discard(line_no)
            self.add("kept_with_warnings", -1)
            mine = [w for w in self.warnings if w.line_no == line_no]
            self.warnings = [w for w in self.warnings if w.line_no != line_no]
            self.rejects.extend(mine)
        self.rejects.append(Reject(line_no, field_name, _shown(value), reason[:500]))
        if line_no not in self.rejected_lines:
            self.rejected_lines.add(line_no)
            self.add("rejected")

    def warn(self, line_no: int, field_name: str | None, value: str | None, reason: str) -> None:
        """Report a value left out of a kept row (the row is counted once as kept with
        warnings)."""
        self.warnings.append(Reject(line_no, field_name, _shown(value), reason[:500]))
        if line_no not in self.warned_lines:
            self.warned_lines.add(line_no)
            self.add("kept_with_warnings")


@lru_cache(maxsize=16)
def _hasher(salt: bytes) -> blake2b:
    return blake2b(salt, digest_size=16)


def row_text(values: list[str | None]) -> str:
    """A row's values joined by U+001F, as hashed (an empty cell as nothing); the read-ahead
    sends rows in this form (:mod:`closedloop.ingest.read.blob`)."""
    return UNIT.join([v or "" for v in values])


def text_hash(salt: bytes, text: str) -> str:
    """The 128-bit digest of a :func:`row_text` (with the mapping and rules in ``salt``)."""
    h = _hasher(salt).copy()  # the salt hashed once: a copy costs less than hashing it again
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def row_hash(salt: bytes, values: list[str | None]) -> str:
    """A 128-bit digest of a row's values (with the mapping and rules in ``salt``)."""
    return text_hash(salt, row_text(values))


def row_problem(values: list[str | None], width: int) -> tuple[str | None, str | None, str] | None:
    """A reason the whole row cannot be read (more cells than the header): (field, value,
    reason), or None. A record the reader could not read comes as a
    :class:`~closedloop.ingest.read.base.RowProblem` instead of values."""
    if len(values) > width:
        return (
            None,
            None,
            f"the row has {len(values)} cells but the header has {width}: "
            "a delimiter inside an unquoted value, or the wrong delimiter?",
        )
    return None


def formula_problem(value: str) -> str | None:
    """The reason for a cell holding a formula without a saved value, or None."""
    if value.startswith(FORMULA_PREFIX):
        formula = value[len(FORMULA_PREFIX) :]
        return (
            f"the cell holds the formula {formula} but no calculated value; open the file in a "
            "spreadsheet program and save it, then import again"
        )
    return None
