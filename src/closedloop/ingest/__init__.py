"""Bringing data in: file readers, mapping profiles, validation, import batches (M6, M19).

The package is built in stages, each a subpackage that imports only the stages below it
(import-linter's "Ingest stages" contract; docs/concepts/code-layout.md):

    service   run, resume and roll back batches; queue an import as a job; uploads
    engine    the chunk loop, the read-ahead process and the validation workers
    write     one writer per kind of record (persons and organisations in write/persons/)
    validate  values read by type, names, phones, emails; a run's context and outcome
    map       a file's columns to a kind's fields: synonyms, suggestions, saved profiles
    read      file formats (CSV, Excel, JSON, Parquet) as rows of text

**The front door.** Other packages use the names below, imported from ``closedloop.ingest``
(loaded on first use, so that importing this package loads no engine), and the modules
``closedloop.ingest.models`` (the tables) and ``closedloop.ingest.hooks`` (plugin hooks);
import-linter refuses imports of the stages from outside ("Front door: ingest").

- Run an import: :func:`run_import` (a file → :class:`Summary`), :func:`prepare_run`,
  :class:`Options`, ``COUNT_KEYS``; the modules ``batches`` (list, show, roll back, rejects),
  ``background`` (queue an import as a worker job), ``uploads`` (files waiting to be
  imported) and ``profiles`` (saved mappings); :func:`value_origins` (where a record's values
  came from); :func:`spreadsheet_safe` (a value written to a file people open).
- Kinds and mappings: ``KINDS``, ``PERSONS``, ``ORDERS``, ``ORDER_LINES``, :func:`get_kind`,
  :class:`Field`, :class:`Mapping`, :class:`MappingRequest`, :class:`Target`,
  ``ATTRIBUTE_TYPES``, :func:`parse_pairs`, :func:`slug`, :func:`suggest`.
- Files: :func:`open_table`, :class:`TableError`, :class:`RowProblem`, :func:`cell_text`.
- What the sync API shares with the import: :class:`Context`, :class:`ChunkResult`,
  ``READERS``, :func:`canon_value`, :func:`catalogue`, the writers
  :class:`PartyImporter`, :class:`Orders` and :class:`OrderLines`.

See ``docs/howto/import.md`` for formats, mapping, validation, rollback and resumption, and
``docs/decisions/0003-import-engine.md`` for how the engine is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: exported name → the module (under closedloop.ingest) that defines it; a name equal to the
#: module's last part is the module itself
_EXPORTS: dict[str, str] = {
    "Options": "validate.context",
    "COUNT_KEYS": "validate.context",
    "run_import": "service.runner",
    "prepare_run": "service.runner",
    "Summary": "service.runner",
    "batches": "service.batches",
    "background": "service.background",
    "uploads": "service.uploads",
    "value_origins": "service.lineage",
    "spreadsheet_safe": "service.safe",
    "KINDS": "map.fields",
    "PERSONS": "map.fields",
    "ORDERS": "map.fields",
    "ORDER_LINES": "map.fields",
    "Field": "map.fields",
    "get_kind": "map.fields",
    "Mapping": "map.mapping",
    "MappingRequest": "map.mapping",
    "Target": "map.mapping",
    "ATTRIBUTE_TYPES": "map.mapping",
    "parse_pairs": "map.mapping",
    "slug": "map.mapping",
    "suggest": "map.mapping",
    "profiles": "map.profiles",
    "open_table": "read",
    "TableError": "read",
    "RowProblem": "read",
    "cell_text": "read.base",
    "Context": "validate.context",
    "ChunkResult": "validate.context",
    "READERS": "validate.convert",
    "canon_value": "write.attributes",
    "catalogue": "write.attributes",
    "Orders": "write.commerce",
    "OrderLines": "write.lines",
    "PartyImporter": "write.persons.importer",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from closedloop.ingest.map import profiles as profiles
    from closedloop.ingest.map.fields import KINDS as KINDS
    from closedloop.ingest.map.fields import ORDER_LINES as ORDER_LINES
    from closedloop.ingest.map.fields import ORDERS as ORDERS
    from closedloop.ingest.map.fields import PERSONS as PERSONS
    from closedloop.ingest.map.fields import Field as Field
    from closedloop.ingest.map.fields import get_kind as get_kind
    from closedloop.ingest.map.mapping import ATTRIBUTE_TYPES as ATTRIBUTE_TYPES
    from closedloop.ingest.map.mapping import Mapping as Mapping
    from closedloop.ingest.map.mapping import MappingRequest as MappingRequest
    from closedloop.ingest.map.mapping import Target as Target
    from closedloop.ingest.map.mapping import parse_pairs as parse_pairs
    from closedloop.ingest.map.mapping import slug as slug
    from closedloop.ingest.map.mapping import suggest as suggest
    from closedloop.ingest.read import RowProblem as RowProblem
    from closedloop.ingest.read import TableError as TableError
    from closedloop.ingest.read import open_table as open_table
    from closedloop.ingest.read.base import cell_text as cell_text
    from closedloop.ingest.service import background as background
    from closedloop.ingest.service import batches as batches
    from closedloop.ingest.service import uploads as uploads
    from closedloop.ingest.service.lineage import value_origins as value_origins
    from closedloop.ingest.service.runner import Summary as Summary
    from closedloop.ingest.service.runner import prepare_run as prepare_run
    from closedloop.ingest.service.runner import run_import as run_import
    from closedloop.ingest.service.safe import spreadsheet_safe as spreadsheet_safe
    from closedloop.ingest.validate.context import COUNT_KEYS as COUNT_KEYS
    from closedloop.ingest.validate.context import ChunkResult as ChunkResult
    from closedloop.ingest.validate.context import Context as Context
    from closedloop.ingest.validate.context import Options as Options
    from closedloop.ingest.validate.convert import READERS as READERS
    from closedloop.ingest.write.attributes import canon_value as canon_value
    from closedloop.ingest.write.attributes import catalogue as catalogue
    from closedloop.ingest.write.commerce import Orders as Orders
    from closedloop.ingest.write.lines import OrderLines as OrderLines
    from closedloop.ingest.write.persons.importer import PartyImporter as PartyImporter


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'closedloop.ingest' has no attribute {name!r}")
    if module.rpartition(".")[2] == name:
        value: Any = importlib.import_module(f"closedloop.ingest.{module}")
    else:
        value = getattr(importlib.import_module(f"closedloop.ingest.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
