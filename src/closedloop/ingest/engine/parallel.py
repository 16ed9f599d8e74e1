"""Validation in worker processes, so that a big file uses every core.

The read-ahead process reads the file (:mod:`closedloop.ingest.engine.readahead`), the main process
looks rows up and writes, workers validate (names, emails, phones, dates, postal check: the
costly part). Chunks stay in file order: each is written when its validation comes back,
after the chunks before it, with its checkpoint (:mod:`closedloop.ingest.engine.pipeline`).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from closedloop.ingest.read.blob import Blob
from closedloop.ingest.validate.context import ChunkResult, Context
from closedloop.ingest.validate.prepare import PartyRow
from closedloop.ingest.write import fresh
from closedloop.ingest.write.fresh import Fresh
from closedloop.ingest.write.persons.classify import Item, chosen

_worker: Any = None
#: garbage collection thresholds while an import runs, in the main process and the workers
GC_THRESHOLD = (50_000, 20, 100)


def _none(value: None) -> None:
    return value


def _init(ctx: Context, close: list[int]) -> None:
    """Start a worker: close the descriptors it must not hold (the read-ahead's pipe: the
    reader must see the writer go), leave Ctrl-C to the writer (which stops the pool), build
    its importer from the run's context."""
    global _worker
    import gc

    for fd in close:
        os.close(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writer's to handle

    from closedloop.ingest.write.persons.importer import PartyImporter

    # A None bound by Python's sqlite3 (the new rows' image) goes through its adapter
    # lookup, which misses twice; an adapter that returns it is found at once. Measured:
    # 4.0 → 2.8 µs to insert a row of 15 values, 5 of them None.
    sqlite3.register_adapter(type(None), _none)
    gc.freeze()  # what the worker inherited is not garbage: keep collections short
    gc.set_threshold(*GC_THRESHOLD)  # and rare: a chunk makes many objects, few cycles
    _worker = PartyImporter(ctx)


def validate(
    payload: list[Item] | tuple[list[Item], Blob, list[int]], new: list[bool] | None = None
) -> tuple[list[tuple[Any, ...]], Fresh | None, ChunkResult, dict[str, Any]]:
    """Validate the items of ``payload``
    (:meth:`~closedloop.ingest.write.persons.classify.Work.payload`) in a
    worker. Rows travel back as plain tuples (pickled several times faster than objects),
    and, when ``new`` says which items' keys were not stored, the new rows as a database
    image for the writer (:mod:`closedloop.ingest.write.fresh`); also returned: the choices they
    added (attribute → choice code → label) so that the main process stores them."""
    items = chosen(payload)
    out = ChunkResult()
    ctx: Context = _worker.ctx
    before = {code: set(a.new_labels) for code, a in ctx.attributes.items()}
    columns = _worker.spec.columns
    valid = _worker.validate(items, out)
    created: Fresh | None = None
    if new is not None:
        is_new = {item[0] for item, flag in zip(items, new, strict=True) if flag}
        created = fresh.encode([r for r in valid if r.line_no in is_new], columns)
        valid = [r for r in valid if r.line_no not in is_new]
    rows = [row.pack(columns) for row in valid]
    added = {
        code: {c: label for c, label in a.new_labels.items() if c not in before[code]}
        for code, a in ctx.attributes.items()
    }
    return rows, created, out, {code: new for code, new in added.items() if new}


def rows_of(tuples: list[tuple[Any, ...]]) -> list[PartyRow]:
    """The rows a worker sent back."""
    return [PartyRow.unpacked(t) for t in tuples]


def worker_count(requested: int | None, file_size: int) -> int:
    """How many validation workers: as asked, else one per core, at most four (none on one
    core, nor for small files, where starting processes costs more than it saves). The main
    process reads and writes beside them: measured on two cores, two workers beat one by
    16 % and three were slower again (docs/benchmarks-import.md)."""
    if requested is not None:
        return max(0, requested)
    if file_size < 4 << 20:
        return 0
    cores = os.cpu_count() or 1
    return min(4, cores) if cores > 1 else 0


def pool(ctx: Context, workers: int, close: list[int] | None = None) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes holding a copy of ``ctx``; forked ones close the
    file descriptors ``close``."""
    method = "fork" if threading.current_thread() is threading.main_thread() else "spawn"
    if method not in multiprocessing.get_all_start_methods():
        method = "spawn"
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_init,
        initargs=(ctx, (close or []) if method == "fork" else []),
    )
