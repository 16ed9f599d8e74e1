"""The worker loop: fire due schedules, give back stale jobs, delete long-ended ones (hourly),
claim and run due jobs.

Run it as its own process (``closedloop worker``, as many as you like: claims are atomic) or
as a thread inside ``closedloop serve`` (the embedded default of the demo).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from closedloop.db.uow import session_factory, unit_of_work
from closedloop.jobs import retention, schedules, service
from closedloop.jobs.models import Job
from closedloop.settings import get_settings

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    """``host:pid:thread`` — shown on running jobs so an operator knows who holds them."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass
class Worker:
    """A polling worker over the ``jobs`` table of ``engine``."""

    engine: Engine
    kinds: Iterable[str] | None = None
    worker_id: str = field(default_factory=default_worker_id)
    poll_seconds: float = 1.0
    stale_after: float = 300.0
    on_job: Callable[[Job, str], None] | None = None
    ran: int = 0

    def tick(self) -> bool:
        """One round: schedules, stale jobs, then at most one job. True when a job ran."""
        schedules.fire_due(self.engine)
        registry = service.handlers()
        wanted = [k for k in (self.kinds or registry) if k in registry]
        job = service.claim(self.engine, self.worker_id, wanted)
        if job is None:
            return False
        status = service.execute(self.engine, job, registry)
        self.ran += 1
        if self.on_job is not None:
            self.on_job(job, status)
        return True

    def purge(self) -> int:
        """Delete the jobs that ended longer ago than the retention setting (none when it
        is 0); returns how many."""
        days = get_settings().job_retention_days
        if days <= 0:
            return 0
        with unit_of_work(session_factory(self.engine)) as session:
            return retention.purge_ended(session, older_than=timedelta(days=days))

    def run(self, stop: threading.Event, *, once: bool = False) -> int:
        """Work until ``stop`` is set (or, with ``once``, until nothing is due); returns how
        many jobs ran. Errors of the loop itself (database briefly away) are logged and the
        loop goes on after a pause."""
        last_stale_check = last_purge = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() - last_stale_check > 30:
                    service.requeue_stale(self.engine, stale_after=self.stale_after)
                    last_stale_check = time.monotonic()
                if time.monotonic() - last_purge > retention.PURGE_EVERY_SECONDS:
                    self.purge()
                    last_purge = time.monotonic()
                if self.tick():
                    continue
                if once:
                    break
            except Exception:
                log.exception("Worker %s: loop error; retrying", self.worker_id)
            stop.wait(self.poll_seconds)
        return self.ran


def start_thread(
    engine: Engine, *, poll_seconds: float = 1.0
) -> tuple[threading.Thread, threading.Event]:
    """Start a worker in a daemon thread of this process; set the event to stop it."""
    stop = threading.Event()
    worker = Worker(engine, poll_seconds=poll_seconds, worker_id=f"{default_worker_id()}:embedded")
    thread = threading.Thread(
        target=worker.run, args=(stop,), name="closedloop-worker", daemon=True
    )
    thread.start()
    return thread, stop
