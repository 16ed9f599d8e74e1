"""ORM model of a durable job: survives restarts, reports progress, retried on failure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, created_at, int_pk
from closedloop.db.types import JsonDoc
from closedloop.vocab import JobStatus


class Job(Base):
    """A unit of background work (scoring run, import, campaign wave, dedupe)."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_run_after", "status", "run_after"),
        # One queued or running job per kind that declares itself one at a time
        # (closedloop.jobs.guards): the store refuses a second even when two requests race.
        Index(
            "ux_jobs_one_active",
            "kind",
            unique=True,
            sqlite_where=text("exclusive AND status IN ('queued', 'running')"),
            postgresql_where=text("exclusive AND status IN ('queued', 'running')"),
        ),
    )
    id: Mapped[int_pk]
    kind: Mapped[str] = mapped_column(String(64))
    #: set for the kinds declared one at a time (closedloop.jobs.guards.one_at_a_time)
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]
    run_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_by: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobSchedule(Base):
    """A recurring job: every ``every_seconds`` from ``next_run_at`` the worker queues a job of
    ``kind`` with ``payload`` (nightly scoring, weekly dedupe…)."""

    __tablename__ = "job_schedules"
    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    every_seconds: Mapped[int] = mapped_column(Integer)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_job_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]
