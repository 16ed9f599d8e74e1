"""The chunk loop of one import batch: read, classify, validate (in workers for big files),
write in file order, checkpoint; on SQLite several chunks share a transaction.

:class:`Runner` is driven by :func:`closedloop.ingest.runner.run_import`.
"""

from __future__ import annotations

import copy
import gc
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, islice
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from closedloop.contacts.models import AttributeChoice
from closedloop.db.base import utcnow
from closedloop.hookspecs import pm
from closedloop.ingest import fresh, indexes, parallel
from closedloop.ingest.bulk import Bulk
from closedloop.ingest.context import ChunkResult, Context, Options
from closedloop.ingest.convert import choice_key
from closedloop.ingest.fresh import Fresh
from closedloop.ingest.kinds import importer_for
from closedloop.ingest.models import ImportBatch, ImportReject
from closedloop.ingest.party import PartyImporter, Work
from closedloop.ingest.prepare import PartyRow
from closedloop.ingest.readers import Table, TableError
from closedloop.ingest.readers.base import Row as ReadRow

RETRIES = 8
#: (share of the file read, counts so far): called between transactions
Progress = Callable[[float, dict[str, int]], None]
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
    rarer (a chunk makes many objects but few cycles); on SQLite the WAL is
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
    thresholds = gc.get_threshold()
    gc.set_threshold(*parallel.GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        if sqlite:
            conn.rollback()
            fresh.release(conn)
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
    #: the keys of each chunk written since this one was classified
    written_since: list[set[str]] = field(default_factory=list)
    prepared: list[PartyRow] = field(default_factory=list)
    fresh: Fresh | None = None


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
            clash = any(not item.keys.isdisjoint(keys) for keys in item.written_since)
            if item.version is not None and not clash:
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
        # New rows come back as a database image that SQLite copies (SQLite, no extra columns)
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
                        later.written_since.append(item.keys)
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
