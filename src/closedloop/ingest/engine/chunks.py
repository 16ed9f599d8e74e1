"""The chunk loop of one import batch: read, classify, validate, write in file order,
checkpoint; on SQLite several chunks share a transaction. Big persons and organisations
files run through :mod:`closedloop.ingest.engine.pipeline` (read ahead, validated in workers).

:class:`Runner` is driven by :func:`closedloop.ingest.service.runner.run_import`.
"""

from __future__ import annotations

import copy
import gc
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from itertools import chain, islice

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from closedloop.contacts.models import AttributeChoice
from closedloop.db.base import utcnow
from closedloop.db.bulk import BulkWriter, writer_for
from closedloop.hookspecs import pm
from closedloop.ingest.engine import parallel
from closedloop.ingest.engine.pipeline import Pipeline, Progress
from closedloop.ingest.models import ImportBatch, ImportReject
from closedloop.ingest.read import Table, TableError
from closedloop.ingest.read.base import Row as ReadRow
from closedloop.ingest.validate.context import ChunkResult, Context, Options
from closedloop.ingest.write import indexes
from closedloop.ingest.write.kinds import importer_for
from closedloop.ingest.write.persons.importer import PartyImporter

RETRIES = 8
#: SQLite: a transaction of several chunks is committed after this long at the latest, so
#: that other writers (the web app, jobs) never wait much longer for the write lock.
HOLD_SECONDS = 3.0


#: SQLite page cache of an import's connection, MiB (the engine's default), and beside two
#: or more validation workers (~130 MiB each), so that an import stays within 500 MB
CACHE_MIB = 64
CACHE_MIB_BESIDE_WORKERS = 24


@contextmanager
def _bulk_session(conn: Connection, workers: int = 0) -> Iterator[None]:
    """Settings for a long stream of writes on this connection, restored afterwards.

    The objects built before the import (modules, caches) are moved out of the garbage
    collector's sight (``gc.freeze``) so that collections stay short, and collections are
    rarer (a chunk makes many objects but few cycles); the store's writer takes its settings
    for a stream (:meth:`~closedloop.db.bulk.BulkWriter.stream_start`: on SQLite the WAL is
    checkpointed every ~40 MB instead of every 4 MB, a page changed by several chunks is
    copied back once) with a page cache sized for the memory budget
    (``CLOSEDLOOP_IMPORT_CACHE_MIB`` overrides it).
    """
    writer = writer_for(conn)
    cache = os.environ.get("CLOSEDLOOP_IMPORT_CACHE_MIB")
    writer.stream_start(
        int(cache) if cache else CACHE_MIB if workers < 2 else CACHE_MIB_BESIDE_WORKERS
    )
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(*parallel.GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        writer.stream_end()


def _retryable(exc: Exception) -> bool:
    """A conflict with another writer (same key inserted, lock held, serialisation), not a
    bug: worth trying the chunk again."""
    text = str(getattr(exc, "orig", exc)).lower()
    if isinstance(exc, OperationalError):
        return any(w in text for w in ("locked", "busy", "deadlock", "serializ", "could not"))
    return "unique" in text or "duplicate key" in text


class Runner:
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
            shared = writer_for(conn).single_writer and not self.ctx.dry_run
            self.span = max(size, self.options.commit_rows) if shared else size
            head = list(islice(rows, size))
            if shared and isinstance(self.importer, PartyImporter):
                self._defer_indexes(conn, len(head), table.progress())
            rows = chain(head, rows)
            try:
                if workers == 0:
                    while chunk := list(islice(rows, size)):
                        self.commit(conn, len(chunk), partial(self._process, chunk=chunk))
                        self.report(progress, table.progress())
                else:
                    Pipeline(self, conn, workers).run(rows, size, table, progress)
            except TableError:
                # The file is broken further on: what was read before is good; keep it.
                self._flush(conn)
                raise
            finally:
                self._flush(conn)
                if self.deferred:
                    self._restore_indexes(conn)

    def _defer_indexes(self, conn: Connection, first_rows: int, read: float) -> None:
        """Bulk-load mode (:mod:`closedloop.ingest.write.indexes`) when the file, estimated from
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

    def report(self, progress: Progress | None, read: float) -> None:
        """Report progress (``read``: the share of the file read) between transactions
        only: a reporter that writes (a job's progress) must not wait for the write lock
        this import holds."""
        if progress is not None and not self.in_tx:
            progress(read, dict(self.counts))

    def _flush(self, conn: Connection) -> None:
        if self.in_tx:
            conn.commit()
            self.in_tx, self.uncommitted = False, 0

    @staticmethod
    def data_version(conn: Connection) -> int | None:
        """SQLite's counter of commits by other connections (None elsewhere)."""
        return writer_for(conn).data_version()

    def begin(self, bulk: BulkWriter) -> None:
        """Take the write lock for the current transaction (not in a dry run)."""
        if not self.ctx.dry_run and not self.in_tx:
            bulk.begin_write()

    def _process(self, bulk: BulkWriter, out: ChunkResult, *, chunk: list[ReadRow]) -> None:
        self.begin(bulk)
        self.importer.process(bulk, chunk, out)

    def commit(
        self,
        conn: Connection,
        rows: int,
        step: Callable[[BulkWriter, ChunkResult], None],
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
                step(writer_for(conn), out)
                self._announce(conn, out.touched)
                self._checkpoint(conn, rows, out)
                self.uncommitted += rows
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
        self.counts["rows"] = self.counts.get("rows", 0) + rows
        self.rows_done += rows

    def _announce(self, conn: Connection, ids: list[int]) -> None:
        """Tell the other domains (identity resolution, webhooks) which persons the chunk
        created or changed, in the chunk's transaction (``persons_imported``)."""
        if not ids or self.ctx.kind.name != "persons" or self.ctx.dry_run:
            return
        with Session(bind=conn, join_transaction_mode="rollback_only") as session:
            pm.hook.persons_imported(session=session, person_ids=ids, batch_id=self.ctx.batch_id)
            session.flush()

    def _checkpoint(self, conn: Connection, rows: int, out: ChunkResult) -> None:
        if out.rejects or out.warnings:
            conn.execute(
                insert(ImportReject),
                [
                    {
                        "batch_id": self.ctx.batch_id,
                        "line_no": r.line_no,
                        "field": (r.field or "")[:100] or None,
                        "value": r.value[:500] if r.value is not None else None,
                        "reason": r.reason,
                        "severity": severity,
                    }
                    for severity, found in (("error", out.rejects), ("warning", out.warnings))
                    for r in found
                ],
            )
        counts = dict(self.counts)
        for key, n in out.counts.items():
            counts[key] = counts.get(key, 0) + n
        counts["rows"] = counts.get("rows", 0) + rows
        conn.execute(
            update(ImportBatch)
            .where(ImportBatch.id == self.ctx.batch_id)
            .values(rows_done=self.rows_done + rows, counts=counts, heartbeat_at=utcnow())
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
