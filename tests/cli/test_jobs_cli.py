"""``closedloop worker`` and ``closedloop jobs``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.db.base import utcnow
from closedloop.db.uow import unit_of_work
from closedloop.hookspecs import hookimpl, pm
from closedloop.jobs import service
from closedloop.jobs.models import Job, JobSchedule

runner = CliRunner()


class Shout:
    @hookimpl
    def job_handlers(self) -> dict[str, Any]:
        return {"test.shout": lambda ctx: {"said": str(ctx.payload.get("word", "")).upper()}}


@pytest.fixture()
def shout() -> Iterator[None]:
    plugin = Shout()
    pm.register(plugin)
    yield
    pm.unregister(plugin)


def test_worker_once_runs_due_jobs_and_jobs_list_shows_them(
    engine: Engine, factory: sessionmaker[Session], shout: None
) -> None:
    with unit_of_work(factory) as s:
        job_id = service.enqueue(s, "test.shout", {"word": "hey"}).id
    out = runner.invoke(app, ["worker", "--once"])
    assert out.exit_code == 0, out.output
    assert f"job {job_id} test.shout: done" in out.output
    listed = runner.invoke(app, ["jobs", "list", "--json"])
    rows = json.loads(listed.stdout)
    assert rows[0]["id"] == job_id and rows[0]["result"] == {"said": "HEY"}
    shown = json.loads(runner.invoke(app, ["jobs", "show", str(job_id)]).stdout)
    assert shown["status"] == "done"


def test_cancel_refuses_a_finished_job_with_a_clear_message(
    engine: Engine, factory: sessionmaker[Session], shout: None
) -> None:
    with unit_of_work(factory) as s:
        job_id = service.enqueue(s, "test.shout").id
    service.run_pending(engine)
    out = runner.invoke(app, ["jobs", "cancel", str(job_id)])
    assert out.exit_code == 1
    assert "only a queued job can be cancelled" in out.output


def test_schedule_add_list_and_fire_through_the_worker(
    engine: Engine, factory: sessionmaker[Session], shout: None
) -> None:
    added = runner.invoke(
        app,
        [
            "jobs",
            "schedule",
            "add",
            "nightly",
            "test.shout",
            "--every",
            "1d",
            "--at",
            "02:00",
            "--payload",
            '{"word": "night"}',
            "--json",
        ],
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["next_run_at"].endswith("02:00:00+00:00")
    bad = runner.invoke(app, ["jobs", "schedule", "add", "x", "no.such.kind", "--every", "1d"])
    assert bad.exit_code == 1 and "no handler for job kind 'no.such.kind'" in bad.output
    bad_json = runner.invoke(
        app, ["jobs", "schedule", "add", "y", "test.shout", "--every", "1d", "--payload", "{"]
    )
    assert bad_json.exit_code == 1 and "--payload is not JSON" in bad_json.output
    with unit_of_work(factory) as s:
        s.execute(update(JobSchedule).values(next_run_at=utcnow()))
    out = runner.invoke(app, ["worker", "--once"])
    assert "test.shout: done" in out.output
    listed = json.loads(runner.invoke(app, ["jobs", "schedule", "list", "--json"]).stdout)
    assert listed[0]["name"] == "nightly" and listed[0]["last_job_id"] is not None
    runner.invoke(app, ["jobs", "schedule", "remove", "nightly"])
    assert json.loads(runner.invoke(app, ["jobs", "schedule", "list", "--json"]).stdout) == []


def test_jobs_purge_deletes_jobs_that_ended_long_ago(
    engine: Engine, factory: sessionmaker[Session], shout: None
) -> None:
    with unit_of_work(factory) as s:
        old = service.enqueue(s, "test.shout", {"word": "old"}).id
        new = service.enqueue(s, "test.shout", {"word": "new"}).id
        waiting = service.enqueue(
            s, "test.shout", {"word": "later"}, run_after=utcnow() + timedelta(days=9)
        ).id
    service.run_pending(engine)
    with unit_of_work(factory) as s:
        s.execute(
            update(Job).where(Job.id == old).values(finished_at=utcnow() - timedelta(days=40))
        )
    out = runner.invoke(app, ["jobs", "purge", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"deleted": 1, "older_than_days": 30}
    listed = {
        row["id"] for row in json.loads(runner.invoke(app, ["jobs", "list", "--json"]).stdout)
    }
    assert listed == {new, waiting}
    out = runner.invoke(app, ["jobs", "purge", "--older-than", "0"])
    assert out.exit_code == 0 and "1 job(s) that ended more than 0 day(s) ago deleted" in out.output
    bad = runner.invoke(app, ["jobs", "purge", "--older-than", "-3"])
    assert bad.exit_code == 2 and "greater than or equal to 0" in bad.output
