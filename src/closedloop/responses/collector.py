"""Write-behind of opens and clicks: answer the request at once, write in batches.

A tracking request only reads its signed token and appends a :class:`~.hits.Hit` here; one
thread writes what waited every ``tracking_flush_ms`` (or as soon as ``tracking_buffer_max``
hits wait) in one transaction. :meth:`Collector.close` — called when the server shuts down
cleanly — writes everything left. A batch the database refuses is kept and tried again.

Back-pressure: when twice ``tracking_buffer_max`` hits wait (the writer falls behind a
burst), a new hit waits until the writer took them (at most a second), so the buffer stays
bounded.

Loss window: a process killed without a clean shutdown (SIGKILL, power loss) loses the hits
waiting: those of the last ``tracking_flush_ms`` and of the write under way when the writer
keeps up, at most twice ``tracking_buffer_max`` plus a batch when it does not. With
``CLOSEDLOOP_TRACKING_FLUSH_MS=0`` each hit is written before its answer (nothing to lose,
a round trip to the database per request).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.responses.hits import Hit, store_hits

log = logging.getLogger(__name__)


class Collector:
    """Buffers hits and writes them from one thread (or at once when ``flush_ms`` is 0)."""

    def __init__(
        self,
        factory: sessionmaker[Session] | Callable[[], Session],
        flush_ms: int = 200,
        max_pending: int = 5000,
    ) -> None:
        self.factory = factory
        self.flush_seconds = flush_ms / 1000
        self.max_pending = max_pending
        self.pending: list[Hit] = []
        self.written = 0
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.drained = threading.Condition(self.lock)
        self.closed = False
        self.thread: threading.Thread | None = None

    def add(self, hit: Hit) -> None:
        """Queue ``hit`` (or write it now when there is no buffer)."""
        if self.flush_seconds <= 0:
            self._write([hit])
            return
        with self.lock:
            if self.closed:
                raise RuntimeError("the collector is closed")
            self.pending.append(hit)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="closedloop-tracking", daemon=True
                )
                self.thread.start()
            if len(self.pending) >= self.max_pending:
                self.wake.notify()
            if len(self.pending) >= 2 * self.max_pending:
                self.drained.wait(1.0)  # back-pressure: let the writer catch up

    def _take(self) -> list[Hit]:
        with self.lock:
            batch, self.pending = self.pending, []
            self.drained.notify_all()
        return batch

    def _write(self, batch: list[Hit]) -> None:
        with unit_of_work(self.factory) as session:  # type: ignore[arg-type]
            store_hits(session, batch)
        self.written += len(batch)

    def flush(self) -> int:
        """Write every hit waiting now; returns how many were written."""
        batch = self._take()
        if not batch:
            return 0
        try:
            self._write(batch)
        except Exception:
            with self.lock:  # keep them, in order, for the next try
                self.pending[:0] = batch
            raise
        return len(batch)

    def _run(self) -> None:
        while True:
            with self.lock:
                if not self.closed:
                    self.wake.wait(self.flush_seconds)
                closing = self.closed
            try:
                self.flush()
            except Exception:
                log.exception("Writing tracked opens and clicks failed; trying again")
                time.sleep(min(1.0, self.flush_seconds * 5))
            if closing:
                with self.lock:
                    if not self.pending:
                        return

    def close(self) -> None:
        """Write everything left and stop the writer (a clean shutdown)."""
        with self.lock:
            self.closed = True
            self.wake.notify()
            thread = self.thread
        if thread is not None:
            thread.join()
        self.flush()
