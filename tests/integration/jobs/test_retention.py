"""Jobs that ended long ago are deleted (their payloads may hold personal data); queued and
running jobs, and recent ones, are kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.base import utcnow
from closedloop.db.uow import unit_of_work
from closedloop.jobs import retention
from closedloop.jobs.models import Job
from closedloop.jobs.worker import Worker
from closedloop.settings import get_settings


def _jobs(factory: sessionmaker[Session]) -> None:
    now = utcnow()
    specs = {
        "done-40-days": ("done", now - timedelta(days=40), now - timedelta(days=41)),
        "failed-31-days": ("failed", now - timedelta(days=31), now - timedelta(days=31)),
        "cancelled-40-days": ("cancelled", None, now - timedelta(days=40)),
        "done-5-days": ("done", now - timedelta(days=5), now - timedelta(days=5)),
        "queued-40-days": ("queued", None, now - timedelta(days=40)),
        "running-40-days": ("running", None, now - timedelta(days=40)),
    }
    with unit_of_work(factory) as s:
        for kind, (status, finished, created) in specs.items():
            s.add(Job(kind=kind, status=status, payload={"email": "lea@example.org"},
                      finished_at=finished, created_at=created))  # fmt: skip


def _kinds(factory: sessionmaker[Session]) -> set[str]:
    with factory() as s:
        return set(s.scalars(select(Job.kind)))


def test_jobs_that_ended_before_the_cutoff_are_deleted(factory: sessionmaker[Session]) -> None:
    _jobs(factory)
    with unit_of_work(factory) as s:
        assert retention.purge_ended(s, older_than=timedelta(days=30)) == 3
    assert _kinds(factory) == {"done-5-days", "queued-40-days", "running-40-days"}
    with unit_of_work(factory) as s:
        assert retention.purge_ended(s, older_than=timedelta(days=1)) == 1
        with pytest.raises(ValueError, match="negative"):
            retention.purge_ended(s, older_than=timedelta(days=-1))
    assert _kinds(factory) == {"queued-40-days", "running-40-days"}


def test_workers_purge_with_the_retention_setting(
    engine: Engine, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    _jobs(factory)
    monkeypatch.setenv("CLOSEDLOOP_JOB_RETENTION_DAYS", "0")  # keep everything
    get_settings.cache_clear()
    assert Worker(engine).purge() == 0
    assert len(_kinds(factory)) == 6
    monkeypatch.setenv("CLOSEDLOOP_JOB_RETENTION_DAYS", "35")
    get_settings.cache_clear()
    assert Worker(engine).purge() == 2  # done 40 days ago, cancelled 40 days ago
    assert "failed-31-days" in _kinds(factory)
    get_settings.cache_clear()
