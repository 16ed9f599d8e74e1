"""Recurring jobs and the worker loop (the thread ``closedloop serve`` embeds)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.jobs.conftest import EchoPlugin

from closedloop.db.base import as_utc, utcnow
from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict, ValidationFailed
from closedloop.jobs import schedules, service
from closedloop.jobs.models import Job, JobSchedule
from closedloop.jobs.worker import start_thread


def test_interval_and_time_of_day_parsing() -> None:
    assert schedules.parse_every("15m") == 900
    assert schedules.parse_every("1d") == 86400
    with pytest.raises(ValidationFailed):
        schedules.parse_every("30s")  # below a minute
    with pytest.raises(ValidationFailed):
        schedules.parse_every("daily")
    now = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    assert schedules.first_run(86400, "02:00", now) == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert schedules.first_run(86400, "23:30", now) == datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        schedules.first_run(86400, "25:99", now)


def test_a_due_schedule_queues_one_job_and_moves_to_its_next_time(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    with unit_of_work(factory) as s:
        schedules.add_schedule(s, "hourly-echo", "test.echo", every="1h", payload={"text": "tick"})
        with pytest.raises(Conflict):
            schedules.add_schedule(s, "hourly-echo", "test.echo", every="1h")
    assert schedules.fire_due(engine) == []  # first run is an hour away
    past = utcnow() - timedelta(hours=3, minutes=30)  # the worker was down for 3 runs
    with unit_of_work(factory) as s:
        s.execute(update(JobSchedule).values(next_run_at=past))
    fired = schedules.fire_due(engine)
    assert len(fired) == 1  # missed runs are not replayed one by one
    with unit_of_work(factory) as s:
        schedule = schedules.get_schedule(s, "hourly-echo")
        assert schedule.last_job_id == fired[0]
        assert utcnow() < as_utc(schedule.next_run_at) <= utcnow() + timedelta(hours=1)
        job = s.get(Job, fired[0])
        assert job is not None and job.created_by == "schedule:hourly-echo"
    assert schedules.fire_due(engine) == []
    service.run_pending(engine)
    assert echo.calls and echo.calls[0][0] == fired[0]


def test_workers_racing_on_a_schedule_queue_it_once(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        schedules.add_schedule(s, "race", "test.echo", every="1d")
        s.execute(update(JobSchedule).values(next_run_at=utcnow() - timedelta(minutes=1)))
    fired: list[int] = []
    threads = [
        threading.Thread(target=lambda: fired.extend(schedules.fire_due(engine))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fired) == 1
    with unit_of_work(factory) as s:
        assert len(s.scalars(select(Job.id).where(Job.kind == "test.echo")).all()) == 1


def test_paused_schedules_do_not_fire(engine: Engine, factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        schedules.add_schedule(s, "paused", "test.echo", every="1h")
        schedules.set_enabled(s, "paused", False)
        s.execute(update(JobSchedule).values(next_run_at=utcnow() - timedelta(minutes=1)))
    assert schedules.fire_due(engine) == []


def test_the_embedded_worker_thread_runs_queued_jobs(
    engine: Engine, factory: sessionmaker[Session], echo: EchoPlugin
) -> None:
    thread, stop = start_thread(engine, poll_seconds=0.05)
    try:
        with unit_of_work(factory) as s:
            job_id = service.enqueue(s, "test.echo", {"text": "bg"}).id
        deadline = time.monotonic() + 20
        status = "queued"
        while time.monotonic() < deadline and status != "done":
            time.sleep(0.05)
            with unit_of_work(factory) as s:
                status = service.get_job(s, job_id).status
        assert status == "done"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
