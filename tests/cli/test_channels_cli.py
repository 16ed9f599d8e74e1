"""``closedloop channels``: check, preview, proofs, seeds, templates, send (and the
``campaigns.send`` job the worker runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import Rejecting, smtp, wave
from typer.testing import CliRunner

from closedloop.campaigns.models import Communication, SeedSend
from closedloop.campaigns.send_job import queue_send
from closedloop.cli.main import app
from closedloop.db.uow import unit_of_work
from closedloop.jobs import service as jobs
from closedloop.jobs.models import Job

runner = CliRunner()


def test_check_then_send_with_seeds_and_proofs(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 5)
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        checked = runner.invoke(app, ["channels", "check", str(setup.wave_id), "--json"])
        assert checked.exit_code == 0, checked.output
        doc = json.loads(checked.stdout)
        assert doc["ok"] and doc["would_send"] == 5
        assert [f["code"] for f in doc["findings"]] == ["no_seeds"]
        added = runner.invoke(
            app, ["channels", "seeds", "add", "email", "monitor@company.test", "--name", "Monitor"]
        )
        assert added.exit_code == 0, added.output
        proof = runner.invoke(
            app,
            [
                "channels",
                "test-send",
                str(setup.wave_id),
                "--json",
                "--person",
                str(setup.person_ids[0]),
            ],
        )
        assert proof.exit_code == 0, proof.output
        assert json.loads(proof.stdout)[0]["outcome"] == "sent"
        assert handler.received == ["monitor@company.test"]
        sent = runner.invoke(app, ["channels", "send", str(setup.wave_id), "--json"])
        assert sent.exit_code == 0, sent.output
        report = json.loads(sent.stdout)
        assert report["sent"] == 5 and report["seeds"] == 1
        assert report["counts"] == {"sent": 5}
        again = runner.invoke(app, ["channels", "send", str(setup.wave_id), "--json"])
        assert json.loads(again.stdout)["sent"] == 0 and json.loads(again.stdout)["seeds"] == 0
    assert handler.received.count("monitor@company.test") == 2  # the proof and one copy
    assert len(handler.received) == 7
    with factory() as s:
        copy = s.scalars(select(SeedSend)).one()
        assert copy.status == "sent"


def test_preview_renders_for_a_real_person(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 1)
    monkeypatch.setenv("CLOSEDLOOP_PUBLIC_BASE_URL", "http://crm.test")
    out = runner.invoke(
        app, ["channels", "preview", str(setup.wave_id), "--person", str(setup.person_ids[0])]
    )
    assert out.exit_code == 0, out.output
    assert "Hello Ann," in out.stdout and "http://crm.test/preferences/" in out.stdout


def test_templates_add_lists_every_problem_and_stores_nothing(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "code": "spring",
                "name": "Spring",
                "channel": "email",
                "contents": [
                    {
                        "locale": "en",
                        "subject": "Hi {{ person.nme }}",
                        "body": "<p>{{ ''.__class__ }}</p>",
                    }
                ],
            }
        )
    )
    out = runner.invoke(app, ["channels", "templates", "add", str(bad)])
    assert out.exit_code == 1
    assert "en subject: line 1: unknown field person.nme" in out.stderr
    assert "en body: line 1: '__class__' may not be used (unsafe)" in out.stderr
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            {
                "code": "spring",
                "name": "Spring",
                "channel": "email",
                "contents": [{"locale": "en", "subject": "Hi", "body": "<p>Hi</p>"}],
            }
        )
    )
    first = runner.invoke(app, ["channels", "templates", "add", str(good), "--json"])
    second = runner.invoke(app, ["channels", "templates", "add", str(good), "--json"])
    assert json.loads(first.stdout)["version"] == 1 and json.loads(second.stdout)["version"] == 2


def test_the_campaigns_send_job_sends_the_wave_with_progress(
    engine: Engine, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 3)
        job_id = queue_send(s, setup.wave_id, created_by="tests").id
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        assert jobs.run_pending(engine, kinds=["campaigns.send"]) == 1
    with factory() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.status == "done" and job.progress == 1.0
        assert job.result is not None and job.result["sent"] == 3
        assert "3 sent" in (job.message or "")
        assert set(s.scalars(select(Communication.status))) == {"sent"}
    assert len(handler.received) == 3
