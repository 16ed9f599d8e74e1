"""Imports as worker jobs: queued from an upload, run by a worker with progress, and resumed
without duplicates when the worker is killed mid-import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from closedloop.ingest.service import uploads
from closedloop.ingest.service.background import import_job, queue_import
from closedloop.ingest.validate.context import Options
from closedloop.jobs.service import requeue_stale, run_pending
from closedloop.settings import get_settings

ROWS = 6000


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _queue(engine: Engine, path: Path, **options: object) -> int:
    with path.open("rb") as fh:
        token, _stored = uploads.save(fh, path.name)
    with Session(engine) as session, session.begin():
        job = queue_import(session, token, "persons", Options(source="jobs", **options))  # type: ignore[arg-type]
        return job.id


def test_an_upload_is_imported_by_a_worker(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("external_id,family_name,email\nJ1,Dupont,j1@example.com\nJ2,,bad@\n")
    job_id = _queue(engine, path)
    with Session(engine) as session:
        queued = import_job(session, job_id)
    assert queued.status == "queued" and queued.batch_id is None
    assert run_pending(engine, kinds=["ingest.run"]) == 1
    with Session(engine) as session:
        done = import_job(session, job_id)
    assert done.status == "done" and done.progress == 1.0
    assert done.summary is not None and done.summary["counts"]["new"] == 1
    assert done.summary["rejects"][0]["line"] == 3
    assert done.batch_id == done.summary["batch_id"]
    assert _count(engine, "SELECT COUNT(*) FROM persons WHERE source_system = 'jobs'") == 1


def test_uploads_wait_in_the_configured_folder(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared" / "uploads"
    monkeypatch.setenv("CLOSEDLOOP_UPLOAD_DIR", str(shared))
    get_settings.cache_clear()
    try:
        path = tmp_path / "p.csv"
        path.write_text("external_id,family_name\nU1,Durand\n")
        job_id = _queue(engine, path)
        assert len(list(shared.iterdir())) == 1  # where workers on other machines can see it
        assert oct(shared.stat().st_mode & 0o777) == "0o700"
        assert run_pending(engine, kinds=["ingest.run"]) == 1
        with Session(engine) as session:
            assert import_job(session, job_id).status == "done"
    finally:
        get_settings.cache_clear()


def test_a_killed_worker_resumes_without_duplicates(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("external_id,given_name,family_name,email,postal_code,country\n")
        for i in range(ROWS):
            fh.write(
                f"K{i:06d},Given{i % 97},FAMILY{i % 1013},k{i}@example.org,750{i % 20 + 1:02d},FR\n"
            )
    job_id = _queue(engine, path, chunk_size=200, commit_rows=400, workers=0)
    env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": database_url}
    cli = str(Path(sys.executable).parent / "closedloop")
    worker = subprocess.Popen(
        [cli, "worker", "--once", "--kind", "ingest.run"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.time() + 180
    while time.time() < deadline and worker.poll() is None:
        if _count(engine, "SELECT COALESCE(MAX(rows_done), 0) FROM import_batches") >= 400:
            break
        time.sleep(0.02)
    assert worker.poll() is None, worker.communicate()
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    stored = _count(engine, "SELECT COUNT(*) FROM persons")
    assert 400 <= stored < ROWS
    with Session(engine) as session:
        assert import_job(session, job_id).status == "running"  # its worker is gone
    assert requeue_stale(engine, stale_after=0) == 1  # the heartbeat is stale: queued again
    assert run_pending(engine, kinds=["ingest.run"]) == 1
    with Session(engine) as session:
        done = import_job(session, job_id)
    assert done.status == "done", done.error
    assert done.summary is not None
    assert done.summary["resumed_at_row"] == stored
    assert done.summary["counts"]["rows"] == ROWS
    assert _count(engine, "SELECT COUNT(*) FROM persons") == ROWS
    assert _count(engine, "SELECT COUNT(DISTINCT external_id) FROM persons") == ROWS
    assert _count(engine, "SELECT COUNT(*) FROM emails") == ROWS
    assert _count(engine, "SELECT COUNT(*) FROM import_batches") == 1
