"""``closedloop events``: create for a campaign, list, show, answer, check in, attendees,
links (--json), and bad input named."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import wave
from tests.integration.events.setup import invited
from typer.testing import CliRunner

from closedloop.campaigns.tracking import read_checkin, read_rsvp
from closedloop.cli.main import app
from closedloop.db.uow import unit_of_work

runner = CliRunner()


def _run(*args: str) -> object:
    result = runner.invoke(app, ["events", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in args else result.output


def test_create_list_and_show_an_event(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 1, code="SPRING")
    made = _run(
        "create", "FAIR", "Spring fair", "--starts", "2027-05-14T18:30", "--ends",
        "2027-05-14T21:00", "--timezone", "Europe/Paris", "--campaign", "SPRING",
        "--venue", "Halle", "--capacity", "50", "--organiser-email", "ev@example.com", "--json",
    )  # fmt: skip
    assert isinstance(made, dict)
    assert made["campaign_id"] == setup.campaign_id
    assert made["starts_at"] == "2027-05-14T16:30:00+00:00"  # Paris summer time is UTC+2
    listed = _run("list", "--json")
    assert [e["code"] for e in listed] == ["FAIR"]  # type: ignore[union-attr]
    shown = _run("show", "FAIR", "--json")
    assert shown["counts"]["invited"] == 0 and shown["capacity"] == 50  # type: ignore[index]
    assert "Spring fair" in str(_run("show", str(made["id"])))


def test_bad_input_is_named(factory: sessionmaker[Session]) -> None:
    backwards = runner.invoke(
        app,
        ["events", "create", "X", "X", "--starts", "2027-05-14T18:00", "--ends",
         "2027-05-14T17:00", "--timezone", "Mars/Olympus"],
    )  # fmt: skip
    assert backwards.exit_code == 1 and "time zone" in backwards.output
    missing = runner.invoke(app, ["events", "show", "NOPE"])
    assert missing.exit_code == 1 and "NOPE" in missing.output


def test_answer_check_in_attendees_and_links(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 3)
    m = made.messages
    assert _run("answer", str(m[0]), "yes", "--json") == {
        "person_id": made.person_ids[0], "answer": "yes", "changed": True,
    }  # fmt: skip
    assert _run("answer", str(m[1]), "yes", "--json")["answer"] == "yes"  # type: ignore[index]
    assert _run("answer", str(m[2]), "yes", "--json")["answer"] == "waitlist"  # type: ignore[index]
    first = _run("checkin", "GALA", "--invitation", str(m[0]), "--json")
    again = _run("checkin", "GALA", "--person", str(made.person_ids[0]), "--json")
    assert first == {"person_id": made.person_ids[0], "already": False}
    assert again == {"person_id": made.person_ids[0], "already": True}
    seen = _run("attendees", "GALA", "--json")
    assert seen["counts"]["attended"] == 1 and seen["counts"]["waitlist"] == 1  # type: ignore[index]
    only = _run("attendees", "GALA", "--state", "attended", "--json")
    assert [r["person_id"] for r in only["rows"]] == [made.person_ids[0]]  # type: ignore[index]
    found = _run("attendees", "GALA", "--search", "reader2@", "--json")
    assert [r["person_id"] for r in found["rows"]] == [made.person_ids[2]]  # type: ignore[index]
    rsvp, checkin = str(_run("links", str(m[1]))).split()
    assert read_rsvp(rsvp.rsplit("/", 1)[1]) == m[1]
    assert read_checkin(checkin.rsplit("/", 1)[1]) == m[1]
    refused = runner.invoke(app, ["events", "answer", str(m[1]), "attended"])
    assert refused.exit_code == 1
    banana = runner.invoke(app, ["events", "answer", str(m[1]), "banana"])
    assert banana.exit_code == 1 and "banana is not an answer" in banana.output
