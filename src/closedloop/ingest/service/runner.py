"""Run an import: open the file, resolve the mapping, then stream it in chunks, each chunk
committed with the batch's checkpoint, so that a killed import resumes where it stopped.

``run_import`` is the one entry of the CLI, the API and the web page. It returns a
:class:`Summary`; a file that cannot be read at all, or a mapping that leaves a column
unmapped, raises ValidationFailed before anything is written.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from closedloop.db.base import utcnow
from closedloop.errors import ValidationFailed, failure_message
from closedloop.ingest.engine.chunks import Runner
from closedloop.ingest.engine.pipeline import Progress
from closedloop.ingest.map import profiles
from closedloop.ingest.map.fields import Kind, get_kind
from closedloop.ingest.map.mapping import Mapping, resolve
from closedloop.ingest.models import ImportReject
from closedloop.ingest.read import RowProblem, Table, TableError, open_table
from closedloop.ingest.service.claims import start_batch
from closedloop.ingest.validate.context import COUNT_KEYS, Context, Options
from closedloop.ingest.validate.convert import infer_type
from closedloop.ingest.write import attributes as attrs
from closedloop.ingest.write import indexes
from closedloop.settings import get_settings

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What an import did: counts, the first rejects, how the file was read."""

    batch_id: int
    kind: str
    source: str
    status: str
    dry_run: bool
    counts: dict[str, int]
    rejects: list[dict[str, Any]] = field(default_factory=list)
    rejects_total: int = 0
    #: values left out of kept rows: the first ones (line, field, value, reason) and the total
    value_warnings: list[dict[str, Any]] = field(default_factory=list)
    value_warnings_total: int = 0
    #: warnings about the file as a whole (encoding, empty file…)
    warnings: list[str] = field(default_factory=list)
    file: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    resumed_at_row: int = 0
    error: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` and the API)."""
        out = dict(self.__dict__)
        out["rows_per_second"] = (
            round(self.counts.get("rows", 0) / self.seconds) if self.seconds > 0 else None
        )
        return out


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def _sample_types(table: Table, mapping: Mapping, known: set[str]) -> dict[str, str]:
    """Types of new attributes named without one, inferred from the first 1,000 rows."""
    wanted = {
        i: t.name
        for i, t in enumerate(mapping.columns.values())
        if t.kind == "attribute" and t.type is None and t.name not in known
    }
    if not wanted:
        return {}
    samples: dict[int, list[str]] = {i: [] for i in wanted}
    for _line, values in islice(table.rows(0), 1000):
        if isinstance(values, RowProblem):
            continue
        for i in wanted:
            if i < len(values) and values[i] is not None:
                samples[i].append(values[i] or "")
    return {code: infer_type(samples[i]) for i, code in wanted.items()}


def prepare_run(
    engine: Engine, path: Path, kind_name: str, options: Options
) -> tuple[Kind, Table, Mapping]:
    """Open the file and resolve its mapping (nothing is written)."""
    try:
        kind = get_kind(kind_name)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    if not options.source or len(options.source) > 64:
        raise ValidationFailed("The source name must have 1 to 64 characters.")
    try:
        table = open_table(
            path,
            name=options.filename,
            fmt=options.fmt,
            encoding=options.encoding,
            delimiter=options.delimiter,
            sheet=options.sheet,
        )
    except TableError as exc:
        raise ValidationFailed(f"The file cannot be read: {exc}") from exc
    with engine.connect() as conn:
        catalogue = attrs.catalogue(conn)
        if options.mapping_name:
            profile = profiles.get(conn, options.mapping_name)
            if profile is not None:
                if profile.kind != kind.name:
                    raise ValidationFailed(
                        f"Mapping {options.mapping_name!r} is for {profile.kind}, not {kind.name}."
                    )
                options.mapping.profile = dict(profile.columns)
    mapping = resolve(kind, table.headers, options.mapping, catalogue)
    return kind, table, mapping


def run_import(
    engine: Engine,
    path: Path,
    kind_name: str,
    options: Options,
    *,
    progress: Progress | None = None,
) -> Summary:
    """Import ``path`` as ``kind_name``; see the module docstring."""
    started = time.perf_counter()
    settings = get_settings()
    kind, table, mapping = prepare_run(engine, path, kind_name, options)
    digest = file_digest(path)
    with engine.connect() as conn:
        known = set(attrs.catalogue(conn).attributes)
    types = _sample_types(table, mapping, known)
    if not options.dry_run:
        with engine.begin() as conn:  # left missing by an import killed in bulk-load mode
            for party in indexes.TABLES:
                indexes.restore(conn, party)
    with engine.begin() as conn:
        batch_id, skip, counts = start_batch(conn, kind, options, mapping, digest, table)
        if options.mapping_name and not options.dry_run:
            profiles.save(conn, options.mapping_name, kind.name, mapping, options.created_by)
        ctx = Context(
            kind=kind,
            mapping=mapping,
            batch_id=batch_id,
            source=options.source,
            dry_run=options.dry_run,
            date_order=options.date_order,
            default_country=(options.default_country or settings.default_country).upper(),
            default_currency=(options.default_currency or settings.default_currency).upper(),
            now=utcnow(),
            locale=settings.default_locale,
        )
        ctx.attributes = attrs.load(
            conn,
            mapping,
            applies_to="person" if kind.name != "organisations" else "organisation",
            open_codes=mapping.open_attributes,
            types=types,
            locale=settings.default_locale,
            create=not options.dry_run,
        )
    for key in COUNT_KEYS:
        counts.setdefault(key, 0)
    runner = Runner(engine, ctx, options, counts, skip)
    runner.file_size = digest[1]
    error: str | None = None
    status = "dry_run" if options.dry_run else "done"
    try:
        runner.run(table, progress)
    except TableError as exc:
        error, status = str(exc), "failed"
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt):  # Ctrl-C: said by the caller, no traceback
            log.exception("Import batch %s failed", batch_id)
        runner.finish("failed", failure_message(exc), table.warnings)
        raise
    if counts.get("rows", 0) == 0 and status != "failed":
        table.warnings.append("The file has a header but no data rows: nothing to import.")
    runner.finish(status, error, table.warnings)
    rejects, total = _first_rejects(engine, batch_id, options.summary_rejects)
    warned, warned_total = _first_rejects(engine, batch_id, options.summary_rejects, "warning")
    return Summary(
        batch_id=batch_id,
        kind=kind.name,
        source=options.source,
        status=status,
        dry_run=options.dry_run,
        counts=counts,
        rejects=rejects,
        rejects_total=total,
        value_warnings=warned,
        value_warnings_total=warned_total,
        warnings=list(dict.fromkeys(table.warnings)),
        file=table.describe(),
        mapping=mapping.as_json(),
        resumed_at_row=skip,
        error=error,
        seconds=round(time.perf_counter() - started, 3),
    )


def _first_rejects(
    engine: Engine, batch_id: int, limit: int, severity: str = "error"
) -> tuple[list[dict[str, Any]], int]:
    mine = (ImportReject.batch_id == batch_id, ImportReject.severity == severity)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).where(*mine)).scalar_one()
        rows = conn.execute(
            select(
                ImportReject.line_no, ImportReject.field, ImportReject.value, ImportReject.reason
            )
            .where(*mine)
            .order_by(ImportReject.line_no, ImportReject.id)
            .limit(limit)
        )
        out = [{"line": r[0], "field": r[1], "value": r[2], "reason": r[3]} for r in rows]
    return out, int(total)
