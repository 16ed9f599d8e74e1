"""Run an import: open the file, resolve the mapping, then stream it in chunks, each chunk
committed with the batch's checkpoint, so that a killed import resumes where it stopped.

``run_import`` is the one entry of the CLI, the API and the web page. It returns a
:class:`Summary`; a file that cannot be read at all, or a mapping that leaves a column
unmapped, raises ValidationFailed before anything is written.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from closedloop.contacts.models import AttributeChoice
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Conflict, ValidationFailed
from closedloop.hookspecs import pm
from closedloop.ingest import attributes as attrs
from closedloop.ingest import fresh, indexes, parallel, profiles
from closedloop.ingest.bulk import Bulk
from closedloop.ingest.context import ChunkResult, Context, Options
from closedloop.ingest.convert import choice_key, infer_type
from closedloop.ingest.fields import Kind, get_kind
from closedloop.ingest.fresh import Fresh
from closedloop.ingest.kinds import importer_for
from closedloop.ingest.mapping import Mapping, resolve
from closedloop.ingest.models import ImportBatch, ImportReject
from closedloop.ingest.party import PartyImporter, Work
from closedloop.ingest.prepare import PartyRow
from closedloop.ingest.readers import Table, TableError, open_table
from closedloop.ingest.readers.base import Row as ReadRow
from closedloop.settings import get_settings

#: A batch left ``running`` by another machine is resumable after this long without news.
STALE_AFTER = timedelta(minutes=10)
RETRIES = 8
#: SQLite: a transaction of several chunks is committed after this long at the latest, so
#: that other writers (the web app, jobs) never wait much longer for the write lock.
HOLD_SECONDS = 3.0
COUNT_KEYS = ("rows", "new", "updated", "unchanged", "rejected", "duplicates", "empty")
Progress = Callable[[float, dict[str, int]], None]


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


def owner_id() -> str:
    """``host:pid:start`` of this process (a batch's owner; pids are reused, starts are not)."""
    start = int(psutil.Process(os.getpid()).create_time())
    return f"{socket.gethostname()}:{os.getpid()}:{start}"


def owner_alive(owner: str | None, heartbeat: Any) -> bool:
    """Whether the process that runs a batch is still alive."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, start_text = rest.partition(":")
    if host != socket.gethostname():
        return heartbeat is not None and utcnow() - as_utc(heartbeat) < STALE_AFTER
    try:
        proc = psutil.Process(int(pid_text))
        return int(proc.create_time()) == int(start_text or 0) and proc.status() != "zombie"
    except (psutil.NoSuchProcess, ValueError):
        return False


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
        for i in wanted:
            if i < len(values) and values[i] is not None:
                samples[i].append(values[i] or "")
    return {code: infer_type(samples[i]) for i, code in wanted.items()}


def _start_batch(
    conn: Connection,
    kind: Kind,
    options: Options,
    mapping: Mapping,
    digest: tuple[str, int],
    table: Table,
) -> tuple[int, int, dict[str, int]]:
    """The batch to run: a resumable one of the same file, kind, source and mapping, or a new
    one. Returns (id, rows already done, counts so far)."""
    sha, size = digest
    signature = mapping.signature()
    if not options.dry_run and options.resume:
        found = conn.execute(
            select(
                ImportBatch.id,
                ImportBatch.options,
                ImportBatch.owner,
                ImportBatch.heartbeat_at,
                ImportBatch.rows_done,
                ImportBatch.counts,
            )
            .where(
                ImportBatch.kind == kind.name,
                ImportBatch.source_system == options.source,
                ImportBatch.file_sha256 == sha,
                ImportBatch.status.in_(("running", "failed")),
                ImportBatch.dry_run.is_(False),
            )
            .order_by(ImportBatch.id.desc())
            .limit(1)
        ).first()
        if found is not None:
            batch = found
            if (batch.options or {}).get("signature") == signature:
                if owner_alive(batch.owner, batch.heartbeat_at):
                    raise Conflict(
                        f"This file is being imported right now (batch {batch.id}, "
                        f"{batch.owner}); wait for it to finish."
                    )
                conn.execute(
                    update(ImportBatch)
                    .where(ImportBatch.id == batch.id)
                    .values(status="running", owner=owner_id(), heartbeat_at=utcnow(), error=None)
                )
                return batch.id, batch.rows_done, dict(batch.counts or {})
    batch_options: dict[str, Any] = {
        "signature": signature,
        "mapping": mapping.as_json(),
        "file": table.describe(),
        "date_order": options.date_order,
        "default_country": options.default_country,
        "warnings": [],
    }
    batch_id = conn.execute(
        insert(ImportBatch).returning(ImportBatch.id),
        {
            "kind": kind.name,
            "source_system": options.source,
            "filename": (options.filename or "")[-500:] or None,
            "status": "running",
            "counts": {},
            "created_by": options.created_by,
            "file_sha256": sha,
            "file_size": size,
            "mapping_name": options.mapping_name,
            "options": batch_options,
            "dry_run": options.dry_run,
            "rows_done": 0,
            "owner": owner_id(),
            "heartbeat_at": utcnow(),
            "job_id": options.job_id,
        },
    ).scalar_one()
    return batch_id, 0, {}


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
        batch_id, skip, counts = _start_batch(conn, kind, options, mapping, digest, table)
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
    runner = _Runner(engine, ctx, options, counts, skip)
    runner.file_size = digest[1]
    error: str | None = None
    status = "dry_run" if options.dry_run else "done"
    try:
        runner.run(table, progress)
    except TableError as exc:
        error, status = str(exc), "failed"
    except BaseException as exc:
        runner.finish("failed", f"{type(exc).__name__}: {exc}", table.warnings)
        raise
    if counts.get("rows", 0) == 0 and status != "failed":
        table.warnings.append("The file has a header but no data rows: nothing to import.")
    runner.finish(status, error, table.warnings)
    rejects, total = _first_rejects(engine, batch_id, options.summary_rejects)
    return Summary(
        batch_id=batch_id,
        kind=kind.name,
        source=options.source,
        status=status,
        dry_run=options.dry_run,
        counts=counts,
        rejects=rejects,
        rejects_total=total,
        warnings=list(dict.fromkeys(table.warnings)),
        file=table.describe(),
        mapping=mapping.as_json(),
        resumed_at_row=skip,
        error=error,
        seconds=round(time.perf_counter() - started, 3),
    )


def _first_rejects(engine: Engine, batch_id: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).where(ImportReject.batch_id == batch_id)
        ).scalar_one()
        rows = conn.execute(
            select(
                ImportReject.line_no, ImportReject.field, ImportReject.value, ImportReject.reason
            )
            .where(ImportReject.batch_id == batch_id)
            .order_by(ImportReject.line_no, ImportReject.id)
            .limit(limit)
        )
        out = [{"line": r[0], "field": r[1], "value": r[2], "reason": r[3]} for r in rows]
    return out, int(total)


#: SQLite page cache of an import's connection, MiB (the engine's default), and beside two
#: or more validation workers (~130 MiB each), so that an import stays within 500 MB
CACHE_MIB = 64
CACHE_MIB_BESIDE_WORKERS = 24


@contextmanager
def _bulk_session(conn: Connection, workers: int = 0) -> Iterator[None]:
    """Settings for a long stream of writes on this connection, restored afterwards.

    The objects built before the import (modules, caches) are moved out of the garbage
    collector's sight (``gc.freeze``) so that collections stay short; on SQLite the WAL is
    checkpointed every ~40 MB instead of every 4 MB (a page changed by several chunks is
    copied back once) and the page cache is sized for the memory budget
    (``CLOSEDLOOP_IMPORT_CACHE_MIB`` overrides it).
    """
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=10000")
        cache = os.environ.get("CLOSEDLOOP_IMPORT_CACHE_MIB")
        mib = int(cache) if cache else CACHE_MIB if workers < 2 else CACHE_MIB_BESIDE_WORKERS
        conn.exec_driver_sql(f"PRAGMA cache_size=-{mib * 1024}")
        conn.commit()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if sqlite:
            conn.rollback()
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")
            conn.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_MIB * 1024}")
            conn.commit()


def _retryable(exc: Exception) -> bool:
    """A conflict with another writer (same key inserted, lock held, serialisation), not a
    bug: worth trying the chunk again."""
    text = str(getattr(exc, "orig", exc)).lower()
    if isinstance(exc, OperationalError):
        return any(w in text for w in ("locked", "busy", "deadlock", "serializ", "could not"))
    return "unique" in text or "duplicate key" in text


def _data_version(conn: Connection) -> int | None:
    """SQLite's counter of commits by other connections (None elsewhere)."""
    if conn.dialect.name != "sqlite":
        return None
    return int(conn.exec_driver_sql("PRAGMA data_version").scalar_one())


@dataclass
class _Pending:
    """A chunk classified and sent to a worker, waiting to be written in its turn."""

    chunk: list[ReadRow]
    work: Work
    first: ChunkResult
    future: Future[Any]
    version: int | None
    keys: set[str]
    written_since: set[str] = field(default_factory=set)
    prepared: list[PartyRow] = field(default_factory=list)
    fresh: Fresh | None = None


class _Runner:
    """The chunk loop of one batch."""

    def __init__(
        self, engine: Engine, ctx: Context, options: Options, counts: dict[str, int], skip: int
    ) -> None:
        self.engine = engine
        self.ctx = ctx
        self.options = options
        self.counts = counts
        self.skip = skip
        self.rows_done = skip
        self.importer = importer_for(ctx)
        self.file_size = 0
        self.span = options.chunk_size
        self.in_tx = False
        self.uncommitted = 0
        self.tx_started = 0.0
        #: the party table whose indexes are built after the import (bulk-load mode)
        self.deferred = ""

    def run(self, table: Table, progress: Progress | None) -> None:
        rows = table.rows(self.skip)
        size = max(1, self.options.chunk_size)
        workers = 0
        if isinstance(self.importer, PartyImporter):
            workers = parallel.worker_count(self.options.workers, self.file_size)
        with self.engine.connect() as conn, _bulk_session(conn, workers):
            # On SQLite, several chunks share one transaction (the write lock is held from
            # the first to the commit): a B-tree page changed by many rows is then written
            # once, not once per chunk. Measured: 37 µs a row instead of 65 over 1M rows.
            sqlite = conn.dialect.name == "sqlite" and not self.ctx.dry_run
            self.span = max(size, self.options.commit_rows) if sqlite else size
            head = list(islice(rows, size))
            if sqlite and isinstance(self.importer, PartyImporter):
                self._defer_indexes(conn, len(head), table.progress())
            rows = chain(head, rows)
            try:
                if workers == 0:
                    while chunk := list(islice(rows, size)):
                        self._commit(conn, chunk, partial(self._process, chunk=chunk))
                        self._report(progress, table)
                else:
                    self._run_parallel(conn, rows, size, workers, table, progress)
            except TableError:
                # The file is broken further on: what was read before is good; keep it.
                self._flush(conn)
                raise
            finally:
                self._flush(conn)
                if self.deferred:
                    self._restore_indexes(conn)

    def _defer_indexes(self, conn: Connection, first_rows: int, read: float) -> None:
        """Bulk-load mode (:mod:`closedloop.ingest.indexes`) when the file, estimated from
        its first chunk, is big and the table small."""
        estimate = int((self.skip + first_rows) / read) if read > 0 else first_rows
        assert isinstance(self.importer, PartyImporter)
        party = self.importer.spec.table
        if indexes.should_defer(conn, party, estimate, self.options.bulk_rows):
            indexes.drop(conn, indexes.deferrable(party))
            conn.commit()
            self.deferred = party
        else:
            conn.rollback()

    def _restore_indexes(self, conn: Connection) -> None:
        conn.rollback()
        indexes.restore(conn, self.deferred)
        conn.commit()
        self.deferred = ""

    def _report(self, progress: Progress | None, table: Table) -> None:
        """Report progress between transactions only: a reporter that writes (a job's
        progress) must not wait for the write lock this import holds."""
        if progress is not None and not self.in_tx:
            progress(table.progress(), dict(self.counts))

    def _flush(self, conn: Connection) -> None:
        if self.in_tx:
            conn.commit()
            self.in_tx, self.uncommitted = False, 0

    def _begin(self, bulk: Bulk) -> None:
        if not self.ctx.dry_run and not self.in_tx:
            bulk.begin_write()

    def _process(self, bulk: Bulk, out: ChunkResult, *, chunk: list[ReadRow]) -> None:
        self._begin(bulk)
        self.importer.process(bulk, chunk, out)

    def _write(self, bulk: Bulk, out: ChunkResult, *, item: _Pending) -> None:
        """Write a chunk validated by a worker. Its keys are looked up again unless nothing
        can have changed them since it was classified: no other connection wrote (SQLite's
        ``data_version``) and no chunk written in between had one of its keys."""
        assert isinstance(self.importer, PartyImporter)
        relookup = True
        if not self.ctx.dry_run:
            self._begin(bulk)
            if item.version is not None and not (item.keys & item.written_since):
                relookup = _data_version(bulk.conn) != item.version
        self.importer.write(
            bulk, item.work, item.prepared, out, relookup=relookup, created=item.fresh
        )

    def _run_parallel(
        self,
        conn: Connection,
        rows: Iterator[ReadRow],
        size: int,
        workers: int,
        table: Table,
        progress: Progress | None,
    ) -> None:
        importer = self.importer
        assert isinstance(importer, PartyImporter)
        pending: deque[_Pending] = deque()
        ctx = self.ctx
        # New rows come back as JSON that SQLite inserts itself (SQLite, no extra columns)
        direct = (
            fresh.AVAILABLE and conn.dialect.name == "sqlite" and not ctx.dry_run
            and not ctx.extensions
        )  # fmt: skip
        with parallel.pool(self.ctx, workers) as executor:
            while True:
                chunk = list(islice(rows, size))
                if chunk:
                    first = ChunkResult()
                    version = _data_version(conn)
                    work = importer.classify(Bulk(conn), chunk, first)
                    if not self.in_tx:
                        conn.rollback()  # end the read: the write comes later, in order
                    new = [i[1] not in work.stored for i in work.todo] if direct else None
                    future = executor.submit(parallel.validate, work.todo, new)
                    keys = {i[1] for i in work.todo} | {i[1] for i in work.same}
                    pending.append(_Pending(chunk, work, first, future, version, keys))
                if pending and (not chunk or len(pending) > workers):
                    item = pending.popleft()
                    tuples, item.fresh, checked, added = item.future.result()
                    item.prepared = parallel.rows_of(tuples)
                    self._add_choices(added)
                    step = partial(self._write, item=item)
                    self._commit(conn, item.chunk, step, item.first.merged(checked))
                    for later in pending:
                        later.written_since |= item.keys
                    self._report(progress, table)
                if not chunk and not pending:
                    return

    def _add_choices(self, added: dict[str, dict[str, str]]) -> None:
        for code, choices in added.items():
            attr = self.ctx.attributes[code]
            for choice, label in choices.items():
                if choice not in attr.choice_ids:
                    attr.choice_ids[choice] = None
                    attr.new_labels[choice] = label
                    attr.choice_keys[choice_key(label)] = choice

    def _commit(
        self,
        conn: Connection,
        chunk: list[ReadRow],
        step: Callable[[Bulk, ChunkResult], None],
        base: ChunkResult | None = None,
    ) -> None:
        """Run ``step`` and the checkpoint in the current transaction, committed every
        ``span`` rows; a chunk alone in its transaction is retried when another import wrote
        the same keys meanwhile or held the lock too long."""
        for attempt in range(RETRIES):
            out = copy.deepcopy(base) if base is not None else ChunkResult()
            shared = self.in_tx  # earlier chunks wait in this transaction
            if not shared:
                self.tx_started = time.monotonic()
            try:
                step(Bulk(conn), out)
                self._announce(conn, out.touched)
                self._checkpoint(conn, chunk, out)
                self.uncommitted += len(chunk)
                held = time.monotonic() - self.tx_started
                if self.uncommitted >= self.span or held >= HOLD_SECONDS:
                    conn.commit()
                    self.in_tx, self.uncommitted = False, 0
                else:
                    self.in_tx = True
                break
            except (IntegrityError, OperationalError) as exc:
                conn.rollback()
                self.in_tx, self.uncommitted = False, 0
                if attempt == RETRIES - 1 or not _retryable(exc) or shared:
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt))
                self._reload_attributes(conn)
            except BaseException:
                conn.rollback()
                self.in_tx, self.uncommitted = False, 0
                raise
        for key, n in out.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.counts["rows"] = self.counts.get("rows", 0) + len(chunk)
        self.rows_done += len(chunk)

    def _announce(self, conn: Connection, ids: list[int]) -> None:
        """Tell the other domains (identity resolution, webhooks) which persons the chunk
        created or changed, in the chunk's transaction (``persons_imported``)."""
        if not ids or self.ctx.kind.name != "persons" or self.ctx.dry_run:
            return
        with Session(bind=conn, join_transaction_mode="rollback_only") as session:
            pm.hook.persons_imported(session=session, person_ids=ids, batch_id=self.ctx.batch_id)
            session.flush()

    def _checkpoint(self, conn: Connection, chunk: list[Any], out: ChunkResult) -> None:
        if out.rejects:
            conn.execute(
                insert(ImportReject),
                [
                    {
                        "batch_id": self.ctx.batch_id,
                        "line_no": r.line_no,
                        "field": (r.field or "")[:100] or None,
                        "value": r.value[:500] if r.value is not None else None,
                        "reason": r.reason,
                    }
                    for r in out.rejects
                ],
            )
        counts = dict(self.counts)
        for key, n in out.counts.items():
            counts[key] = counts.get(key, 0) + n
        counts["rows"] = counts.get("rows", 0) + len(chunk)
        conn.execute(
            update(ImportBatch)
            .where(ImportBatch.id == self.ctx.batch_id)
            .values(rows_done=self.rows_done + len(chunk), counts=counts, heartbeat_at=utcnow())
        )

    def _reload_attributes(self, conn: Connection) -> None:
        for attr in self.ctx.attributes.values():
            if attr.id is None:
                continue
            attr.choice_ids = {
                code: cid
                for code, cid in attr.choice_ids.items()
                if cid is not None or code in attr.new_labels
            }
            stored = conn.execute(
                select(AttributeChoice.code, AttributeChoice.id).where(
                    AttributeChoice.definition_id == attr.id
                )
            ).all()
            for code, cid in stored:
                attr.choice_ids[code] = cid
            for code in attr.new_labels:
                if code not in {c for c, _ in stored}:
                    attr.choice_ids[code] = None
            conn.rollback()

    def finish(self, status: str, error: str | None, warnings: list[str]) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(
                select(ImportBatch.options).where(ImportBatch.id == self.ctx.batch_id)
            ).first()
            batch_options = dict(row[0] or {}) if row else {}
            batch_options["warnings"] = list(
                dict.fromkeys([*batch_options.get("warnings", []), *warnings])
            )
            conn.execute(
                update(ImportBatch)
                .where(ImportBatch.id == self.ctx.batch_id)
                .values(
                    status=status,
                    error=error,
                    counts=self.counts,
                    finished_at=utcnow() if status != "failed" else None,
                    options=batch_options,
                    heartbeat_at=utcnow(),
                )
            )
