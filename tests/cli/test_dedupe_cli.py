"""``closedloop dedupe``: run (JSON), export-pairs, check, merge, unmerge, households."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.contacts import service
from closedloop.contacts.schemas import PersonCreate

runner = CliRunner()


def test_run_export_check_merge_unmerge(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with factory.begin() as s:
        ids = [
            service.create_person(s, PersonCreate.model_validate(d)).id
            for d in (
                {"given_name": "Jean", "family_name": "Dupont", "birth_date": "1971-03-14",
                 "emails": [{"address": "jd@example.com"}], "source_system": "erp",
                 "external_id": "E-1"},
                {"given_name": "Jean", "family_name": "Dupond", "birth_date": "1971-03-14",
                 "emails": [{"address": "jd@example.com"}], "source_system": "shop",
                 "external_id": "S-1"},
                {"given_name": "Ana", "family_name": "Pop"},
            )
        ]  # fmt: skip
    check = runner.invoke(app, ["dedupe", "check", str(ids[1]), "--json"])
    assert check.exit_code == 0, check.output
    assert [c["person_id"] for c in json.loads(check.stdout)] == [ids[0]]
    result = runner.invoke(app, ["dedupe", "run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["persons"] == 3 and report["merges"] == 1 and report["model_version"] == 1
    out = tmp_path / "pairs.csv"
    exported = runner.invoke(app, ["dedupe", "export-pairs", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["external_id_l"], r["external_id_r"], r["status"]) for r in rows] == [
        ("E-1", "S-1", "auto_merged")
    ]
    merged = runner.invoke(app, ["dedupe", "merge", str(ids[0]), str(ids[2]), "--json"])
    assert merged.exit_code == 0, merged.output
    merge_id = json.loads(merged.stdout)["merge_id"]
    undone = runner.invoke(app, ["dedupe", "unmerge", str(merge_id)])
    assert undone.exit_code == 0 and "undone" in undone.stdout
    again = runner.invoke(app, ["dedupe", "unmerge", str(merge_id)])
    assert again.exit_code == 1 and "already undone" in again.output
    households = runner.invoke(app, ["dedupe", "households", "--json"])
    assert households.exit_code == 0 and json.loads(households.stdout)["households"] == 0
