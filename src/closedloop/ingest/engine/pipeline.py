"""The chunk loop of a big persons or organisations import: read ahead, validate in
workers, write in file order.

Three kinds of process share the work (:mod:`closedloop.ingest.engine.parallel`,
:mod:`closedloop.ingest.engine.readahead`): the read-ahead process parses, keys and hashes each
chunk; the main process looks its keys up, sends the rows that changed or are new to a
validation worker, and writes each chunk when its validation is back, after the chunks
before it, with its checkpoint (:meth:`closedloop.ingest.engine.chunks.Runner.commit`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Connection

from closedloop.db.bulk import BulkWriter, writer_for
from closedloop.ingest.engine import parallel, readahead
from closedloop.ingest.engine.readahead import Keyed
from closedloop.ingest.read import Table, TableError
from closedloop.ingest.read.base import Row as ReadRow
from closedloop.ingest.validate.context import ChunkResult, Context
from closedloop.ingest.validate.convert import choice_key
from closedloop.ingest.validate.prepare import PartyRow
from closedloop.ingest.write import fresh
from closedloop.ingest.write.fresh import Fresh
from closedloop.ingest.write.kinds import Importer
from closedloop.ingest.write.persons.classify import Work
from closedloop.ingest.write.persons.importer import PartyImporter

#: (share of the file read, counts so far): called between transactions
Progress = Callable[[float, dict[str, int]], None]


class Runner(Protocol):
    """What the pipeline needs of the batch's chunk loop
    (:class:`closedloop.ingest.engine.chunks.Runner`): its context and importer, and its
    transactions, checkpoints and progress reports."""

    ctx: Context
    importer: Importer
    in_tx: bool

    def data_version(self, conn: Connection) -> int | None: ...

    def begin(self, bulk: BulkWriter) -> None: ...

    def commit(
        self,
        conn: Connection,
        rows: int,
        step: Callable[[BulkWriter, ChunkResult], None],
        base: ChunkResult | None = None,
    ) -> None: ...

    def report(self, progress: Progress | None, read: float) -> None: ...


#: what a worker answers for a chunk with nothing to validate
_NOTHING: tuple[list[Any], None, ChunkResult, dict[str, Any]] = ([], None, ChunkResult(), {})


@dataclass
class _Pending:
    """A chunk classified and sent to a worker, waiting to be written in its turn."""

    keyed: Keyed
    work: Work
    future: Future[Any]
    version: int | None
    keys: set[str]
    #: the keys of each chunk written since this one was classified
    written_since: list[set[str]] = field(default_factory=list)
    prepared: list[PartyRow] = field(default_factory=list)
    fresh: Fresh | None = None


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


class Pipeline:
    """The loop of one batch run with validation workers."""

    def __init__(self, runner: Runner, conn: Connection, workers: int) -> None:
        self.runner = runner
        self.conn = conn
        self.workers = workers
        importer = runner.importer
        assert isinstance(importer, PartyImporter)
        self.importer = importer
        ctx = runner.ctx
        # New rows come back as a database image that SQLite copies (SQLite, no extra columns)
        self.direct = (
            fresh.AVAILABLE and writer_for(conn).single_writer and not ctx.dry_run
            and not ctx.extensions
        )  # fmt: skip

    def run(
        self, rows: Iterator[ReadRow], size: int, table: Table, progress: Progress | None
    ) -> None:
        """Import ``rows`` chunk by chunk (``size`` rows each)."""
        with (
            readahead.ahead(self.importer, rows, size, table) as (chunks, inherited),
            parallel.pool(self.runner.ctx, self.workers, close=inherited) as executor,
        ):
            pending: deque[_Pending] = deque()
            broken: TableError | None = None
            while True:
                try:
                    keyed = next(chunks, None)
                except TableError as exc:  # the chunks read before the break are written
                    keyed, broken = None, exc
                if keyed is not None:
                    pending.append(self._classify(keyed, executor))
                if pending and (keyed is None or len(pending) > self.workers):
                    self._write_next(pending, progress)
                if keyed is None and not pending:
                    if broken is not None:
                        raise broken
                    return

    def _classify(self, keyed: Keyed, executor: Any) -> _Pending:
        """Look a chunk's keys up and send what needs validating to a worker."""
        runner, conn = self.runner, self.conn
        version = runner.data_version(conn)
        work = self.importer.sort(writer_for(conn), keyed.items, keyed.blob)
        if not runner.in_tx:
            conn.rollback()  # end the read: the write comes later, in order
        if work.todo:
            new = [i[1] not in work.stored for i in work.todo] if self.direct else None
            future = executor.submit(parallel.validate, work.payload(), new)
        else:  # a re-import: nothing changed, no worker needed
            future = _done(_NOTHING)
        keys = {i[1] for i in work.todo} | {i[1] for i in work.same}
        return _Pending(keyed, work, future, version, keys)

    def _write_next(self, pending: deque[_Pending], progress: Progress | None) -> None:
        """Write the oldest pending chunk when its validation is back."""
        item = pending.popleft()
        tuples, item.fresh, checked, added = item.future.result()
        item.prepared = parallel.rows_of(tuples)
        self._add_choices(added)
        step = partial(self._write, item=item)
        self.runner.commit(self.conn, item.keyed.rows, step, item.keyed.out.merged(checked))
        for later in pending:
            later.written_since.append(item.keys)
        self.runner.report(progress, item.keyed.read)

    def _write(self, bulk: BulkWriter, out: ChunkResult, *, item: _Pending) -> None:
        """Write a chunk validated by a worker. Its keys are looked up again unless nothing
        can have changed them since it was classified: no other connection wrote (SQLite's
        ``data_version``) and no chunk written in between had one of its keys."""
        runner = self.runner
        relookup = True
        if not runner.ctx.dry_run:
            runner.begin(bulk)
            clash = any(not item.keys.isdisjoint(keys) for keys in item.written_since)
            if item.version is not None and not clash:
                relookup = runner.data_version(bulk.conn) != item.version
        self.importer.write(
            bulk, item.work, item.prepared, out, relookup=relookup, created=item.fresh
        )

    def _add_choices(self, added: dict[str, dict[str, str]]) -> None:
        """Choices a worker added to open attributes, known from now on."""
        for code, choices in added.items():
            attr = self.runner.ctx.attributes[code]
            for choice, label in choices.items():
                if choice not in attr.choice_ids:
                    attr.choice_ids[choice] = None
                    attr.new_labels[choice] = label
                    attr.choice_keys[choice_key(label)] = choice
