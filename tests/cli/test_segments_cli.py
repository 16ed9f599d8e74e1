"""``closedloop segments``: count a rule file (JSON), create, list, show, members (ids, JSON,
CSV through the export), snapshot, delete; rule mistakes name the rule path."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from tests.integration.segments.world import consent, person
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.db.uow import unit_of_work

runner = CliRunner()


def _flat(text: str) -> str:
    """The output on one line (the console may wrap long messages)."""
    return " ".join(text.split())


def test_count_create_members_snapshot_delete(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with unit_of_work(factory) as s:
        ann = person(s, given_name="Ann", family_name="=HYPERLINK()", gender="f",
                     birth_date=date(1980, 1, 1))  # fmt: skip
        person(s, given_name="Bob", gender="m")
        consent(s, ann)
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"all": [{"field": "gender", "value": "f"},
                                         {"consent": {"channel": "email"}}]}))  # fmt: skip
    r = runner.invoke(app, ["segments", "count", "--rules", str(rules), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"count": 1}
    r = runner.invoke(app, ["segments", "create", "Women", "--rules", str(rules), "--json"])
    assert r.exit_code == 0, r.output
    seg = json.loads(r.output)
    assert seg["count"] == 1
    r = runner.invoke(app, ["segments", "members", str(seg["id"])])
    assert r.output.split() == [str(ann)]
    out = tmp_path / "members.csv"
    r = runner.invoke(app, ["segments", "members", str(seg["id"]), "--csv", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [(x["id"], x["given_name"], x["family_name"]) for x in rows] == [
        (str(ann), "Ann", "'=HYPERLINK()")
    ]
    r = runner.invoke(app, ["segments", "snapshot", str(seg["id"]), "--json"])
    snap = json.loads(r.output)
    assert (snap["kind"], snap["frozen_count"]) == ("snapshot", 1)
    r = runner.invoke(app, ["segments", "list", "--json"])
    assert [x["kind"] for x in json.loads(r.output)] == ["dynamic", "snapshot"]
    r = runner.invoke(app, ["segments", "show", str(snap["id"]), "--json"])
    assert json.loads(r.output)["count"] == 1
    assert runner.invoke(app, ["segments", "delete", str(seg["id"])]).exit_code == 0
    r = runner.invoke(app, ["segments", "show", str(seg["id"])])
    assert r.exit_code == 1 and "does not exist" in _flat(r.output)


def test_mistakes_are_named(factory: sessionmaker[Session], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"all": [{"orders": {"days": -3}}]}')
    r = runner.invoke(app, ["segments", "count", "--rules", str(bad)])
    assert r.exit_code == 1 and "all[0].orders.days" in _flat(r.output)
    bad.write_text('{"all": [')
    r = runner.invoke(app, ["segments", "count", "--rules", str(bad)])
    assert r.exit_code == 1 and "is not JSON" in _flat(r.output)
    r = runner.invoke(app, ["segments", "count", "--rules", str(tmp_path / "missing.json")])
    assert r.exit_code == 1 and "Cannot read the rule file" in _flat(r.output)
