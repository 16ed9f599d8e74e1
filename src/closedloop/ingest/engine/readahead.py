"""The file read ahead of the writer, in a process of its own (big files).

The main process is an import's only writer, and in a re-import it works alone: every row
is unchanged, so the validation workers have nothing to do. Reading the file, keying each
row by its external id and hashing it took 42 % of its time (docs/benchmarks-import.md,
fifth round). A read-ahead process forked from it does that part beside it, one chunk
ahead, and sends each chunk keyed: (line, key, hash) per row for the lookup, and the rows'
values packed in one blob (:mod:`closedloop.ingest.read.blob`). The writer never unpacks the
blob: a chunk's changed or new rows go to a validation worker with the blob as it is and
their positions in it (:meth:`~closedloop.ingest.write.persons.classify.Work.payload`).

Only with ``fork`` (the process needs the opened file and the import's context as they
are), in the main thread (forking a thread of a server is not safe) and not for Parquet;
otherwise the chunks are keyed in the main process (:func:`local`), as for small files.
Ctrl-C is left to the writer, which stops the reader when it stops.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from closedloop.ingest.read import Table, TableError, blob
from closedloop.ingest.read.base import Row
from closedloop.ingest.read.blob import Blob
from closedloop.ingest.validate.context import ChunkResult
from closedloop.ingest.write.persons.classify import Item
from closedloop.ingest.write.persons.importer import PartyImporter


@dataclass
class Keyed:
    """A chunk read and keyed."""

    #: rows read (empty and rejected ones included)
    rows: int
    #: (line, key, hash, values) of each keyed row; values None when they are in ``blob``
    items: list[Item]
    #: what keying found: empty rows, rows refused whole, duplicates within the chunk
    out: ChunkResult
    #: share of the file read after this chunk
    read: float
    #: the items' values (from the read-ahead process)
    blob: Blob | None = None


def local(
    importer: PartyImporter, rows: Iterator[Row], size: int, table: Table, *, packed: bool = False
) -> Iterator[Keyed]:
    """The chunks of ``rows``, keyed in this process; ``packed``: their values in a blob
    (:mod:`closedloop.ingest.read.blob`), not in the items."""
    while chunk := list(islice(rows, size)):
        out = ChunkResult()
        texts: list[str] | None = [] if packed else None
        items = importer.keyed(chunk, out, texts)
        keyed = Keyed(len(chunk), items, out, table.progress())
        if packed:
            keyed.blob = blob.pack([item[3] for item in items], texts)
            keyed.items = [(line, key, digest, None) for line, key, digest, _ in items]
        yield keyed


def possible(table: Table) -> bool:
    """Whether a read-ahead process can be forked here for ``table``: not for Parquet
    (pyarrow's thread pool does not survive a fork)."""
    return (
        table.format != "parquet"
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.current_thread() is threading.main_thread()
    )


@contextmanager
def ahead(
    importer: PartyImporter, rows: Iterator[Row], size: int, table: Table
) -> Iterator[tuple[Iterator[Keyed], list[int]]]:
    """The keyed chunks of ``rows``, read ahead by a forked process when :func:`possible`
    (else keyed here); also the descriptors that processes forked later must close."""
    if not possible(table):
        yield local(importer, rows, size, table), []
        return
    fork = multiprocessing.get_context("fork")
    receive, send = fork.Pipe(duplex=False)
    process = fork.Process(
        target=_read, args=(send, receive, importer, rows, size, table), daemon=True,
        name="closedloop-import-reader",
    )  # fmt: skip
    process.start()
    send.close()
    try:
        yield _received(receive, process, table), [receive.fileno()]
    finally:
        receive.close()
        if process.is_alive():
            process.terminate()
        process.join()


def _read(
    send: Connection,
    receive: Connection,
    importer: PartyImporter,
    rows: Iterator[Row],
    size: int,
    table: Table,
) -> None:
    """The read-ahead process: send each chunk keyed, then how the file ended."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writer's to handle
    receive.close()
    try:
        try:
            for keyed in local(importer, rows, size, table, packed=True):
                send.send(keyed)
            send.send(("end", None, table.warnings))
        except TableError as exc:
            send.send(("end", str(exc), table.warnings))
        except Exception as exc:  # a bug: the writer reports it, with its type
            send.send(("failed", f"{type(exc).__name__}: {exc}", table.warnings))
    except (BrokenPipeError, OSError):
        pass  # the writer stopped: nobody to send to


def _received(receive: Connection, process: BaseProcess, table: Table) -> Iterator[Keyed]:
    """The chunks sent by the read-ahead process; a broken file raises :class:`TableError`
    once the chunks before the break are delivered."""
    while True:
        try:
            message = receive.recv()
        except (EOFError, OSError):  # gone, maybe halfway through a message
            process.join(5)
            raise RuntimeError(
                f"The process reading the file stopped (exit code {process.exitcode})."
            ) from None
        if isinstance(message, Keyed):
            yield message
            continue
        tag, error, warnings = message
        table.warnings.extend(w for w in warnings if w not in table.warnings)
        if tag == "failed":
            raise RuntimeError(f"Reading the file failed: {error}")
        if error is not None:
            raise TableError(error)
        return
