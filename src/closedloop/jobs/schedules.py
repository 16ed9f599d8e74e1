"""Recurring jobs: a schedule queues a job of its kind every ``every_seconds``.

Times are UTC. When the worker was down, missed runs are not replayed one by one: the
schedule fires once and moves on to its next time in the future.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from closedloop.db.base import as_utc, utcnow
from closedloop.db.uow import session_factory, unit_of_work
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.jobs.models import JobSchedule
from closedloop.jobs.service import enqueue

log = logging.getLogger(__name__)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EVERY = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_every(text: str) -> int:
    """``"15m"``, ``"6h"``, ``"1d"``, ``"1w"`` → seconds (at least one minute)."""
    match = _EVERY.match(text.lower())
    seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if seconds < 60:
        raise ValidationFailed(
            f"Cannot read the interval {text!r}.",
            errors=[{"field": "every", "message": "a number and a unit s/m/h/d/w, ≥ 1 minute"}],
        )
    return seconds


def first_run(every_seconds: int, at: str | None, now: datetime | None = None) -> datetime:
    """When a new schedule first fires: the next ``at`` (``"HH:MM"`` UTC) or now + interval."""
    now = now or utcnow()
    if not at:
        return now + timedelta(seconds=every_seconds)
    try:
        hour, minute = (int(part) for part in at.split(":"))
        when = datetime.combine(now.date(), time(hour, minute), tzinfo=now.tzinfo)
    except ValueError as exc:
        raise ValidationFailed(
            f"Cannot read the time {at!r}.",
            errors=[{"field": "at", "message": "a UTC time of day as HH:MM"}],
        ) from exc
    return when if when > now else when + timedelta(days=1)


def add_schedule(
    session: Session,
    name: str,
    kind: str,
    *,
    every: str,
    at: str | None = None,
    payload: dict[str, Any] | None = None,
    created_by: str | None = None,
) -> JobSchedule:
    """Create the schedule ``name`` (unique) that queues ``kind`` every ``every``."""
    if session.scalar(select(JobSchedule.id).where(JobSchedule.name == name)) is not None:
        raise Conflict(f"A schedule named {name!r} already exists.")
    seconds = parse_every(every)
    schedule = JobSchedule(
        name=name,
        kind=kind,
        payload=dict(payload or {}),
        every_seconds=seconds,
        next_run_at=first_run(seconds, at),
        enabled=True,
        created_by=created_by,
    )
    session.add(schedule)
    session.flush()
    return schedule


def get_schedule(session: Session, name: str) -> JobSchedule:
    """The schedule ``name``, or NotFound."""
    schedule = session.scalar(select(JobSchedule).where(JobSchedule.name == name))
    if schedule is None:
        raise NotFound(f"There is no schedule named {name!r}.")
    return schedule


def list_schedules(session: Session) -> list[JobSchedule]:
    """Every schedule, by name."""
    return list(session.scalars(select(JobSchedule).order_by(JobSchedule.name)))


def set_enabled(session: Session, name: str, enabled: bool) -> JobSchedule:
    """Pause or resume a schedule."""
    schedule = get_schedule(session, name)
    schedule.enabled = enabled
    session.flush()
    return schedule


def remove_schedule(session: Session, name: str) -> None:
    """Delete a schedule (jobs it already queued stay)."""
    session.delete(get_schedule(session, name))
    session.flush()


def fire_due(engine: Engine, now: datetime | None = None) -> list[int]:
    """Queue one job for each enabled schedule that is due; returns the new job ids.

    The schedule moves to its next time with ``UPDATE … WHERE next_run_at = <old>`` in the
    same transaction as the job, so several workers never queue the same run twice.
    """
    now = now or utcnow()
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        due = session.execute(
            select(JobSchedule.id, JobSchedule.next_run_at, JobSchedule.every_seconds).where(
                JobSchedule.enabled.is_(True), JobSchedule.next_run_at <= now
            )
        ).all()
    queued: list[int] = []
    for schedule_id, old, every in due:
        nxt = as_utc(old)
        while nxt <= now:
            nxt += timedelta(seconds=every)
        with unit_of_work(factory) as session:
            schedule = session.get(JobSchedule, schedule_id)
            if schedule is None:
                continue
            job_id: int | None = None
            try:
                job_id = enqueue(
                    session,
                    schedule.kind,
                    schedule.payload,
                    created_by=f"schedule:{schedule.name}",
                ).id
            except Conflict as exc:  # a heavy kind still busy: this run is skipped
                log.info("Schedule %s skipped a run: %s", schedule.name, exc.detail)
            values: dict[str, Any] = {"next_run_at": nxt}
            if job_id is not None:
                values["last_job_id"] = job_id
            moved = session.execute(
                update(JobSchedule)
                .where(JobSchedule.id == schedule_id, JobSchedule.next_run_at == old)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()  # another worker fired it first
                continue
            if job_id is not None:
                queued.append(job_id)
    return queued
