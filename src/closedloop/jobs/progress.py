"""A running job's progress and heartbeat, written apart from the job's own work.

Progress is best-effort; the job's outcome is not. A handler may hold the store's only write
lock for minutes (SQLite has one writer: a scoring run storing its scores and then updating
every person's lifecycle status holds it throughout). A progress write made right then, in a
transaction of its own, could only wait for that lock and then fail ("database is locked")
— which used to fail the job at 85 %. So :meth:`Reporter.report` only hands the latest figure
to a thread, which writes it with the heartbeat in short transactions of its own; a write that
cannot be made now is logged and tried again a moment later, and the runner writes the last
figure with the job's outcome anyway.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.base import utcnow
from closedloop.db.uow import unit_of_work
from closedloop.jobs.models import Job

log = logging.getLogger(__name__)

#: The heartbeat: how often a running job says it is alive (see ``requeue_stale``).
HEARTBEAT_SECONDS = 15.0
#: At most this often a progress figure is written (handlers may report far more often).
MIN_INTERVAL_SECONDS = 0.5
#: After a failed write, the next try comes this much later.
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Figure:
    """One progress report: the fraction done (0–1) and what the job is doing."""

    fraction: float
    message: str | None

    def values(self) -> dict[str, Any]:
        """The job columns this figure sets."""
        values: dict[str, Any] = {"progress": min(1.0, max(0.0, self.fraction))}
        if self.message is not None:
            values["message"] = self.message[:500]
        return values


class Reporter:
    """Writes one job's heartbeat and latest progress from a thread of its own."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        job_id: int,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        min_interval: float = MIN_INTERVAL_SECONDS,
    ) -> None:
        self.factory, self.job_id = factory, job_id
        self.heartbeat_seconds, self.min_interval = heartbeat_seconds, min_interval
        self._lock = threading.Lock()
        self._pending: Figure | None = None
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"closedloop-job-{job_id}-progress", daemon=True
        )

    def start(self) -> Reporter:
        """Start the writing thread; returns self."""
        self._thread.start()
        return self

    def report(self, fraction: float, message: str | None = None) -> None:
        """Record the latest progress; returns at once, whatever holds the database."""
        with self._lock:
            self._pending = Figure(fraction, message)
        self._wake.set()

    def stop(self) -> Figure | None:
        """Stop the thread (after the write under way, if any); returns the latest figure not
        written yet, for the runner to write with the job's outcome."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def _take(self) -> Figure | None:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def _give_back(self, figure: Figure | None) -> None:
        """Keep ``figure`` for the next write unless a newer one came meanwhile."""
        with self._lock:
            if self._pending is None:
                self._pending = figure

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.heartbeat_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            figure = self._take()
            if self._write(figure):
                self._stop.wait(self.min_interval)
            else:
                self._give_back(figure)
                self._stop.wait(RETRY_SECONDS)
                self._wake.set()

    def _write(self, figure: Figure | None) -> bool:
        values = {"heartbeat_at": utcnow(), **(figure.values() if figure else {})}
        try:
            with unit_of_work(self.factory) as session:
                session.execute(update(Job).where(Job.id == self.job_id).values(**values))
        except Exception as exc:  # busy database: this figure waits for the next try
            log.info("Progress of job %s not written yet (%s); trying again", self.job_id, exc)
            return False
        return True


__all__ = ["HEARTBEAT_SECONDS", "Figure", "Reporter"]
