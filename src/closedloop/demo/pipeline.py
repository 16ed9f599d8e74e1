"""Feeding chunks to the writer while the next ones are generated, on both cores.

Two ways, same rows:

- :class:`ThreadPipeline` simulates chunks in a background thread and hands over the row
  tuples; the writer binds them (``COPY`` on PostgreSQL, ``executemany`` on SQLite).
- :class:`ProcessPipeline` (large runs on SQLite) simulates in a separate process, which also
  binds the rows into a small spool database file per chunk; the writer then copies each spool
  with ``INSERT … SELECT`` inside SQLite. The writer thus runs no Python per row and never waits
  for the interpreter lock of the generator (with threads, the driver gives that lock up for
  every row and waits for it to come back).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from closedloop.db.bulk import BulkWriter
from closedloop.demo.generate import Context, Ids, simulate
from closedloop.demo.rows import COLUMNS, TABLES, Row, emit


@dataclass
class Batch:
    """One chunk ready to be written: its rows, or the spool file that holds them."""

    counts: Counter[str]
    rows: dict[str, list[Row]] | None = None
    spool: str | None = None
    shapes: list[str] = field(default_factory=list)

    def write(self, writer: BulkWriter) -> None:
        """Insert the chunk through ``writer`` (the caller commits)."""
        if self.spool is not None:
            writer.copy_spool(self.spool, {s: COLUMNS[s] for s in self.shapes})
            return
        assert self.rows is not None
        for shape in TABLES:
            if self.rows[shape]:
                writer.stream(shape.split("|")[0], COLUMNS[shape].split(", "), self.rows[shape])


def chunk_rows(
    ctx: Context, ids: Ids, sizes: list[int], first: int
) -> Iterator[dict[str, list[Row]]]:
    """Rows of every chunk in turn (chunk ``k`` draws from stream ``[seed, first, k]``)."""
    for number, size in enumerate(sizes):
        chunk = simulate(ctx, [first, number], size)
        yield emit(ctx, ids, chunk, np.random.default_rng([ctx.seed, first, number, 7]))


def counts_of(rows: dict[str, list[Row]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for shape, items in rows.items():
        counts[shape.split("|")[0]] += len(items)
    return counts


class ThreadPipeline:
    """Chunks built in a background thread, one ahead of the writer.

    Written chunks come back through :meth:`done`, so that freeing their millions of objects
    also happens in the background thread.
    """

    def __init__(self, ctx: Context, ids: Ids, sizes: list[int], first: int) -> None:
        self._items = chunk_rows(ctx, ids, sizes, first)
        self._box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
        self._used: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._produce, name="demo-generator", daemon=True)

    def _produce(self) -> None:
        try:
            for rows in self._items:
                while True:  # free what the writer is done with, here rather than there
                    try:
                        self._used.get_nowait()
                    except queue.Empty:
                        break
                item = Batch(counts_of(rows), rows=rows)
                del rows
                while not self._stop.is_set():
                    try:
                        self._box.put(("item", item), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                del item
                if self._stop.is_set():
                    return
            self._box.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._box.put(("error", exc))

    def __iter__(self) -> Iterator[Batch]:
        self._worker.start()
        while True:
            kind, value = self._box.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def done(self, batch: Batch) -> None:
        """Hand a written batch back to be freed in the background."""
        self._used.put(batch)

    def close(self) -> None:
        """Stop the generator thread."""
        self._stop.set()
        if self._worker.is_alive():
            self._worker.join(timeout=5)


def write_spool(path: str, rows: dict[str, list[Row]]) -> list[str]:
    """Write the rows of a chunk into a fresh spool database; return the shapes it holds."""
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("BEGIN")
        shapes = [shape for shape in TABLES if rows[shape]]
        for shape in shapes:
            cols = COLUMNS[shape]
            name = shape.replace("|", "__")
            con.execute(f'CREATE TABLE "{name}" ({cols})')
            marks = ", ".join("?" for _ in cols.split(", "))
            con.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows[shape])  # noqa: S608
        con.execute("COMMIT")
    finally:
        con.close()
    return shapes


class ProcessPipeline:
    """Chunks simulated and spooled by a child process (``closedloop.demo.spooler``).

    The child is a plain ``python -m`` subprocess, not ``multiprocessing``: it must not
    re-import the caller's main script. It gets its work as one pickle on stdin, takes free
    spool paths from stdin lines and announces each spooled chunk as a JSON line on stdout.
    """

    def __init__(self, ctx: Context, ids: Ids, sizes: list[int], first: int, folder: str) -> None:
        self._folder = folder
        self._slots = [os.path.join(folder, f"spool-{slot}.db") for slot in range(2)]
        self._work = pickle.dumps((ctx, ids, sizes, first))
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = os.path.join(folder, "generator.log")

    def _send(self, line: str) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(line.encode() + b"\n")
        self._proc.stdin.flush()

    def _died(self) -> RuntimeError:
        assert self._proc is not None
        code = self._proc.wait()
        with open(self._log, encoding="utf-8", errors="replace") as fh:
            tail = fh.read()[-4000:]
        return RuntimeError(f"the demo generator process failed (exit code {code}):\n{tail}")

    def __iter__(self) -> Iterator[Batch]:
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "closedloop.demo.spooler"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(len(self._work).to_bytes(8, "big") + self._work)
        for path in self._slots:
            self._send(path)
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise self._died()
            message = json.loads(line)
            if message["kind"] == "end":
                return
            if message["kind"] == "error":
                raise self._died()
            yield Batch(Counter(message["counts"]), spool=message["path"], shapes=message["shapes"])

    def done(self, batch: Batch) -> None:
        """Give the batch's spool file back to the generator process."""
        assert batch.spool is not None
        with contextlib.suppress(BrokenPipeError):  # the child may be done already
            self._send(batch.spool)

    def close(self) -> None:
        """Stop the child process (closing its stdin ends it)."""
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
