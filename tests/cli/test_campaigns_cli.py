"""``closedloop campaigns create|list|show|edit|approve|launch|pause|resume|cancel|send|status|
calendar``: a campaign from a JSON file to messages received by a real SMTP server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import Rejecting, email_template, person, smtp
from typer.testing import CliRunner

from closedloop.campaigns.coordination_models import PressureRule
from closedloop.campaigns.models import Offer
from closedloop.cli.main import app
from closedloop.db.uow import unit_of_work
from closedloop.segments import freeze_members

runner = CliRunner()


def _ok(*args: str) -> Any:
    result = runner.invoke(app, ["campaigns", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def _base(factory: sessionmaker[Session], n: int = 3) -> int:
    with unit_of_work(factory) as s:
        email_template(s, code="cli-mail")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
        segment = freeze_members(s, "Readers", [person(s, i) for i in range(n)], {"kind": "t"})
        return segment.id


def _file(tmp_path: Path, segment: int, **extra: Any) -> Path:
    doc = {
        "code": "CLI",
        "name": "From the command line",
        "objective": "Recruit book club members",
        "segment_id": segment,
        "budget": "300",
        "cost_per_contact": "0.05",
        "starts_on": datetime.now(UTC).date().isoformat(),
        "waves": [{"name": "Now"}],
        "cells": [
            {"code": "A", "name": "Mail", "channel": "email", "template": "cli-mail",
             "offer": "CLUB", "price": "15.00"},
        ],
        **extra,
    }  # fmt: skip
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps(doc))
    return path


def test_from_a_file_to_the_inbox(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    segment = _base(factory)
    made = _ok("create", "--file", str(_file(tmp_path, segment)), "--by", "alice", "--json")
    assert (made["status"], made["segment_id"], made["cells"][0]["price"]) == (
        "draft", segment, "15.00")  # fmt: skip
    assert [c["code"] for c in _ok("list", "--json")] == ["CLI"]
    refused = runner.invoke(app, ["campaigns", "launch", "CLI"])
    assert refused.exit_code == 1 and "is draft: it cannot be launched" in refused.output
    assert "approved by bob" in _ok("approve", "CLI", "--by", "bob")
    launched = _ok("launch", "CLI", "--by", "bob", "--json")
    assert launched["status"] == "running" and launched["started"][0]["queued"] == 3
    assert "paused" in _ok("pause", "CLI")
    held = runner.invoke(app, ["campaigns", "send", "CLI"])
    assert held.exit_code == 1 and "is paused, not running" in held.output
    _ok("resume", "CLI")
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        sent = _ok("send", "CLI", "--json")
    assert sent["runs"][0]["sent"] == 3 and len(handler.received) == 3
    status = _ok("status", "CLI", "--json")
    assert status["status"] == "completed"
    assert status["waves"][0]["messages"] == {"sent": 3} and status["waves"][0]["done"] == 1.0
    table = _ok("show", "CLI")
    assert "Recruit book club members" in table and "cli-mail v1" in table


def test_editing_a_running_campaign_makes_a_version_and_cancel_skips(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    segment = _base(factory)
    _ok("create", "--file", str(_file(tmp_path, segment)), "--by", "alice")
    _ok("approve", "CLI", "--by", "bob")
    _ok("launch", "CLI")
    edited = _ok("edit", "CLI", "--objective", "Recruit more", "--json")
    assert edited["new_version"] and (edited["version"], edited["status"]) == (2, "draft")
    assert _ok("show", "1", "--json")["objective"] == "Recruit book club members"
    assert _ok("show", "CLI", "--json")["version"] == 2  # the code names the latest version
    cancelled = _ok("cancel", "1", "--yes", "--json")
    assert (cancelled["status"], cancelled["skipped"]) == ("cancelled", 3)


def test_target_by_code_changes_the_latest_version(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    segment = _base(factory)
    _ok("create", "--file", str(_file(tmp_path, segment)), "--by", "alice")
    _ok("approve", "CLI", "--by", "bob")
    _ok("launch", "CLI")
    assert _ok("edit", "CLI", "--objective", "Recruit more", "--json")["version"] == 2
    latest = _ok("show", "CLI", "--json")["id"]
    targeted = _ok("target", "CLI", "--weight", "7", "--json")
    assert (targeted["campaign_id"], targeted["weight"]) == (latest, 7)
    assert _ok("target", "1", "--json")["weight"] == 1  # version 1 kept its own targeting


def test_a_file_with_an_ab_test_by_value_tier_and_a_hold_out(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    segment = _base(factory)
    cells = [{"code": "A", "name": "Mail A", "channel": "email", "template": "cli-mail",
              "share": 0.45},
             {"code": "B", "name": "Mail B", "channel": "email", "template": "cli-mail",
              "share": 0.45},
             {"code": "HOLD", "name": "Hold-out", "is_control": True, "share": 0.1}]  # fmt: skip
    tests = {"stratify_by_tier": True, "ab_test": {"share": 0.2, "metric": "open"}}
    _ok("create", "--file", str(_file(tmp_path, segment, cells=cells, tests=tests)))
    shown = _ok("show", "CLI", "--json")["tests"]
    assert shown == {"stratify_by_tier": True, "one_per_household": False, "holdout_share": 0.1,
                     "ab_test": {"share": 0.2, "metric": "open", "decide_after_hours": 24.0,
                                 "winner_cell": None, "decided_at": None}}  # fmt: skip
    assert "tests: by value tier; A/B 20% on open after 24 h; hold-out 10%" in _ok("show", "CLI")


def test_bad_files_name_the_field(factory: sessionmaker[Session], tmp_path: Path) -> None:
    segment = _base(factory)
    path = _file(tmp_path, segment, budget="-5", cells=[{"code": "A", "name": "A"}])
    bad = runner.invoke(app, ["campaigns", "create", "--file", str(path)])
    assert bad.exit_code == 1
    assert "budget" in bad.output and "a channel is required" in bad.output
    missing = _file(tmp_path, segment, offer="NOPE")
    bad = runner.invoke(app, ["campaigns", "create", "--file", str(missing)])
    assert bad.exit_code == 1 and "No offer has the code 'NOPE'" in bad.output


def test_the_calendar_shows_volumes_pressure_and_conflicts(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    segment = _base(factory)
    with unit_of_work(factory) as s:
        s.add(PressureRule(name="weekly", channel="email", max_messages=1, period_days=7,
                           min_gap_hours=0, active=True))  # fmt: skip
    day = datetime(2027, 5, 3, 9, tzinfo=UTC)
    for code, at in (("ONE", day), ("TWO", day + timedelta(days=2))):
        waves = [{"name": "W", "scheduled_at": at.isoformat(), "expected_volume": 100}]
        _ok("create", "--file", str(_file(tmp_path, segment, code=code, waves=waves)))
    ics = tmp_path / "plan.ics"
    plan = _ok("calendar", "--week", "2027-05-05", "--ics", str(ics), "--json")
    busy = {d["day"]: d for d in plan["days"] if d["waves"]}
    assert busy["2027-05-03"]["volumes"] == {"email": 100}
    assert busy["2027-05-05"]["pressure"] == 2
    [conflict] = plan["conflicts"]
    assert conflict["kind"] == "pressure" and "rule weekly" in conflict["message"]
    assert "ONE «W»" in conflict["message"] and "TWO «W»" in conflict["message"]
    text = ics.read_bytes().decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and "DTSTART:20270503T090000Z" in text
    assert "SUMMARY:ONE: W (draft)" in text
    shown = _ok("show", "TWO", "--json")
    assert shown["conflicts"] == [conflict["message"]]


def test_two_senders_started_at_once_send_each_message_once(
    factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
) -> None:
    segment = _base(factory, n=6)
    _ok("create", "--file", str(_file(tmp_path, segment)), "--by", "alice")
    _ok("approve", "CLI", "--by", "bob")
    _ok("launch", "CLI")
    handler = Rejecting(data_delay=0.2)  # slow enough for the two to overlap
    with smtp(handler, monkeypatch, DATABASE_URL=database_url):
        closedloop = str(Path(sys.executable).parent / "closedloop")
        command = [closedloop, "campaigns", "send", "CLI", "--json"]
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]  # fmt: skip
        outputs = [run.communicate(timeout=120) for run in runs]
    codes = sorted(run.returncode for run in runs)
    errors = " ".join(err for _out, err in outputs)
    # the second finds the wave's lease taken (by a live sender, or just now)
    assert codes == [0, 1] and re.search("being sent by|taken by another sender", errors), outputs
    assert sorted(handler.received) == sorted(f"reader{i}@example.org" for i in range(6))
    assert _ok("status", "CLI", "--json")["waves"][0]["messages"] == {"sent": 6}


def test_approval_runs_the_pre_send_analysis(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with unit_of_work(factory) as s:
        email_template(s, code="no-unsub", body="<p>Hello {{ person.given_name }}</p>")
        members = [person(s, 1), person(s, 2, given_name=None), person(s, 3, email=False)]
        segment = freeze_members(s, "Readers", members, {"kind": "t"}).id
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
    cells = [{"code": "A", "name": "Mail", "channel": "email", "template": "no-unsub"}]
    _ok("create", "--file", str(_file(tmp_path, segment, cells=cells)), "--by", "alice")
    refused = runner.invoke(app, ["campaigns", "approve", "CLI", "--by", "bob"])
    assert refused.exit_code == 1, refused.output
    said = " ".join(refused.output.split())
    assert "no unsubscribe link" in said
    assert "person.given_name is empty for 1 of 3 recipients" in said
    assert _ok("show", "CLI", "--json")["status"] == "draft"


def test_approval_shows_the_warnings(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with unit_of_work(factory) as s:
        email_template(s, code="cli-mail")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
        segment = freeze_members(s, "Readers", [person(s, 1), person(s, 2, email=False)], {})
    _ok("create", "--file", str(_file(tmp_path, segment.id)), "--by", "alice")
    approved = _ok("approve", "CLI", "--by", "bob", "--json")
    assert approved["status"] == "approved"
    assert any("1 recipients will be skipped" in w for w in approved["warnings"])
