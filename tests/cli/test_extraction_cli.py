"""``closedloop campaigns extract|target|funnel|holdout`` and ``closedloop pressure``."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.base import Spec, base, campaign
from typer.testing import CliRunner

from closedloop.campaigns.models import Communication
from closedloop.cli.main import app
from closedloop.segments import freeze_members
from closedloop.vocab import Channel

runner = CliRunner()


def _run(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_pressure_rules_and_extraction_from_the_command_line(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with factory() as session:
        ids = base(session, [Spec(), Spec(), Spec(consent={Channel.EMAIL: "withdrawn"})])
        first = campaign(session, "ONE", ids, priority=50)
        second = campaign(session, "TWO", ids, priority=90)
        segment = freeze_members(session, "first two", ids[:2], {"source": "test"}).id
        session.commit()
    rule = _run("pressure", "set", "weekly", "--max", "1", "--days", "7", "--json")
    assert rule["max_messages"] == 1 and rule["channel"] is None  # type: ignore[index]
    listed = _run("pressure", "list", "--json")
    assert [r["name"] for r in listed["rules"]] == ["weekly"]  # type: ignore[index]
    target = _run("campaigns", "target", "TWO", "--segment", str(segment), "--weight", "1",
                  "--json")  # fmt: skip
    assert target["segment_id"] == segment and target["weight"] == 1  # type: ignore[index]
    results = _run("campaigns", "extract", str(first.wave_id), str(second.wave_id), "--json")
    assert [r["wave_id"] for r in results] == [second.wave_id, first.wave_id]  # type: ignore[union-attr, index]
    assert results[0]["queued"] == 2  # type: ignore[index]
    assert results[1]["excluded"] == {"consent": 1, "arbitration": 2}  # type: ignore[index]
    funnel = _run("campaigns", "funnel", str(first.wave_id), "--stage", "arbitration", "--json")
    steps = {s["stage"]: s["excluded"] for s in funnel["steps"]}  # type: ignore[index]
    assert funnel["target"] == 3 and steps["consent"] == 1 and steps["arbitration"] == 2  # type: ignore[index]
    assert {p["reason"] for p in funnel["persons"]} == {"kept by campaign TWO (priority 90)"}  # type: ignore[index]
    table = _run("campaigns", "funnel", str(first.wave_id))
    assert "arbitration" in table and "target" in table  # type: ignore[operator]
    with factory() as session:
        assert len(session.scalars(select(Communication.id)).all()) == 2
    assert "Rule weekly deleted" in _run("pressure", "delete", "weekly")  # type: ignore[operator]
    assert _run("campaigns", "holdout", "5", "--json") == {"percentage": 5.0}


def test_bad_input_is_named(engine: Engine) -> None:
    bad = runner.invoke(app, ["pressure", "set", "x", "--max", "-1", "--days", "0"])
    assert bad.exit_code == 1
    said = " ".join(bad.stderr.split())  # the console may wrap long lines
    assert "max_messages: must be 0 or more; period_days: must be 1–366" in said
    missing = runner.invoke(app, ["campaigns", "extract", "999999"])
    assert missing.exit_code == 1 and "no wave 999999" in missing.stdout
    nocamp = runner.invoke(app, ["campaigns", "target", "NOPE", "--segment", "1"])
    assert nocamp.exit_code == 1 and "Campaign NOPE does not exist" in nocamp.stderr
