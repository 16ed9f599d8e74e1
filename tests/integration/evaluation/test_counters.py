"""The funnel counters a report reads stay equal to a recount from the rows while the sender
sends (real SMTP) and the capture records opens, clicks, repeats, machines, an unsubscribe, a
reply and a bounce through the real app; ``closedloop evaluation rebuild-counters`` restores
them when they drift."""

from __future__ import annotations

import importlib
import json
import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import wave
from tests.integration.responses import samples
from tests.mail import smtp_server
from typer.testing import CliRunner

from closedloop.campaigns import tracking
from closedloop.campaigns.ledger import queue_rows
from closedloop.campaigns.models import Communication, FunnelCount, Wave
from closedloop.campaigns.sender import WaveSender
from closedloop.cli.main import app as cli
from closedloop.consent import unsubscribe_url
from closedloop.db.uow import unit_of_work
from closedloop.evaluation import check_counters, evaluate, report_dict
from closedloop.responses.mailin import read_mailbox

SHOP = "https://shop.example.com/books?id=7&src=mail"
BARRACUDA = {"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}


def _path(url: str) -> str:
    return urlsplit(url).path


def _messages(factory: sessionmaker[Session], wave_id: int) -> list[Communication]:
    with factory() as s:
        return list(
            s.scalars(
                select(Communication)
                .where(Communication.wave_id == wave_id)
                .order_by(Communication.person_id)
            )
        )


def _funnel(factory: sessionmaker[Session], campaign_id: int) -> dict[str, object]:
    with factory() as s:
        data = report_dict(evaluate(s, campaign_id))
    return {"cells": data["cells"], "waves": [w["cells"] for w in data["waves"]]}


def test_counters_equal_a_recount_through_sending_and_capture_and_a_rebuild_restores_them(
    factory: sessionmaker[Session],
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CLOSEDLOOP_TRACKING_FLUSH_MS", "0")
    with unit_of_work(factory) as s:
        setup = wave(s, 10)
        reminder = Wave(campaign_id=setup.campaign_id, name="Reminder")
        s.add(reminder)
        s.flush()
        queue_rows(s, reminder.id, setup.cell_id, setup.person_ids[:4])
        reminder_id = reminder.id
    with smtp_server(monkeypatch, "http://crm.test") as inbox:
        assert WaveSender(factory, setup.wave_id).run().sent == 10
        assert WaveSender(factory, reminder_id).run().sent == 4
    assert len(inbox.messages) == 14
    with unit_of_work(factory) as s:  # an hour ago: a click at once would be a link scanner's
        s.execute(update(Communication).values(sent_at=datetime.now(UTC) - timedelta(hours=1)))
    first, second = _messages(factory, setup.wave_id), _messages(factory, reminder_id)
    with factory() as s:
        assert check_counters(s, setup.campaign_id) == []  # the sender kept them

    apple = TestClient(app, client=("17.58.1.2", 40000))  # Mail Privacy Protection
    person = TestClient(app, client=("192.0.2.7", 40000))
    with apple, person:
        for _ in range(3):  # opened three times: one open
            person.get(_path(tracking.open_url(first[0].id)))
        person.get(_path(tracking.open_url(first[1].id)))
        person.get(_path(tracking.open_url(second[0].id)))  # the same person, second wave
        apple.get(_path(tracking.open_url(first[2].id)))  # a machine's open only
        for _ in range(5):  # the same click five times
            person.get(_path(tracking.click_url(first[0].id, SHOP)), follow_redirects=False)
        person.get(_path(tracking.click_url(first[0].id, SHOP + "&b=2")), follow_redirects=False)
        person.get(_path(tracking.click_url(second[1].id, SHOP)), follow_redirects=False)
        person.get(
            _path(tracking.click_url(first[3].id, SHOP)), headers=BARRACUDA, follow_redirects=False
        )
        person.head(_path(tracking.click_url(first[4].id, SHOP)))
        answer = person.post(
            _path(unsubscribe_url(setup.person_ids[5])), data={"List-Unsubscribe": "One-Click"}
        )
        assert answer.status_code == 200
    box = mailbox.mbox(tmp_path / "in.mbox")
    box.add(samples.reply(str(first[6].external_ref)))
    box.add(samples.postfix("reader7@example.org", str(first[7].external_ref)))
    box.flush()
    counted = read_mailbox(factory, tmp_path / "in.mbox")
    assert (counted["reply"], counted["bounce"]) == (1, 1)

    with factory() as s:
        assert check_counters(s, setup.campaign_id) == []
    funnel = _funnel(factory, setup.campaign_id)
    (cell,) = funnel["cells"]  # type: ignore[misc]
    assert (cell["members"], cell["contacted"], cell["delivered"]) == (10, 10, 9)
    # persons 0, 1 opened (not the machine's); 0 and 1 clicked (person 1 in the reminder);
    # responders: the clickers and the reply (an unsubscribe and a bounce are not responses)
    assert (cell["opened"], cell["clicked"], cell["responded"]) == (2, 2, 3)
    waves: list[list[dict[str, int]]] = funnel["waves"]  # type: ignore[assignment]
    per_wave = [(w[0]["contacted"], w[0]["opened"], w[0]["clicked"]) for w in waves]
    assert per_wave == [(10, 2, 1), (4, 1, 1)]

    with unit_of_work(factory) as s:  # a change made behind closedloop's back
        s.execute(update(FunnelCount).values(opened=FunnelCount.opened + 7, cost=99.0))
    with factory() as s:
        assert check_counters(s, setup.campaign_id)
    runner = CliRunner()
    checked = runner.invoke(cli, ["evaluation", "rebuild-counters", "--check", "--json"])
    assert checked.exit_code == 1
    assert {d["column"] for d in json.loads(checked.stdout)["differences"]} == {"opened", "cost"}
    done = runner.invoke(cli, ["evaluation", "rebuild-counters", str(setup.campaign_id)])
    assert done.exit_code == 0, done.output
    assert "rebuilt for 1 campaigns" in " ".join(done.stdout.split())
    assert runner.invoke(cli, ["evaluation", "rebuild-counters", "--check"]).exit_code == 0
    assert _funnel(factory, setup.campaign_id) == funnel

    # a base upgraded to migrations 0022 and 0026 gets the same counters from its rows
    migration = importlib.import_module("closedloop.migrations.versions.0022_funnel_counters")
    rows = importlib.import_module("closedloop.migrations.versions.0026_funnel_response_rows")
    with unit_of_work(factory) as s:
        s.execute(delete(FunnelCount))
        s.execute(text(migration.BACKFILL))
        s.execute(text(rows.BACKFILL))
    with factory() as s:
        assert check_counters(s) == []
    assert _funnel(factory, setup.campaign_id) == funnel
