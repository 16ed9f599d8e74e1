"""What the commands print: tables keep every column when piped; ``imports show`` prints tables
like the other commands (JSON with ``--json``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.contacts import service
from closedloop.contacts.schemas import PersonCreate

runner = CliRunner()
CLI = str(Path(sys.executable).parent / "closedloop")
LONG_EMAIL = "marie-christine.de-la-fontaine-dupont@entreprise-tres-longue.example.com"
LONG_PLACE = "Saint-Rémy-en-Bouzemont-Saint-Genest-et-Isson"


def test_a_piped_table_keeps_every_column_whole(
    factory: sessionmaker[Session], database_url: str
) -> None:
    with factory() as s:
        service.create_person(
            s,
            PersonCreate.model_validate(
                {
                    "given_name": "Marie-Christine",
                    "family_name": "de La Fontaine-Dupont",
                    "emails": [{"address": LONG_EMAIL}],
                    "phones": [{"number": "+33557159639"}],
                    "addresses": [{"postal_code": "51300", "locality": LONG_PLACE}],
                }
            ),
        )
        s.commit()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["CLOSEDLOOP_DATABASE_URL"] = database_url
    piped = subprocess.run(
        [CLI, "persons", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert piped.returncode == 0, piped.stderr
    assert LONG_EMAIL in piped.stdout and LONG_PLACE in piped.stdout
    assert "Marie-Christine de La Fontaine-Dupont" in piped.stdout
    assert "…" not in piped.stdout and max(map(len, piped.stdout.splitlines())) > 80
    as_json = subprocess.run(
        [CLI, "persons", "list", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert json.loads(as_json.stdout)["items"][0]["email"] == LONG_EMAIL
    # COLUMNS still chooses a width when given.
    narrow = subprocess.run(
        [CLI, "persons", "list"],
        env={**env, "COLUMNS": "60"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert max(map(len, narrow.stdout.splitlines())) <= 60


def test_imports_show_prints_tables_and_json_on_request(engine: object, tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(
        "external_id;Prénom;Nom;Courriel\nC1;jean;DUPONT;jean@gmial.com\nC2;Ana;Pop;ana@example.ro\n",
        "utf-8",
    )
    imported = runner.invoke(app, ["import", "persons", str(path), "--json"])
    batch = json.loads(imported.stdout)["batch_id"]
    shown = runner.invoke(app, ["imports", "show", str(batch)])
    assert shown.exit_code == 0, shown.output
    assert not shown.output.lstrip().startswith("{")
    assert f"Import batch {batch}" in shown.output and "clients.csv" in shown.output
    assert "Mapping" in shown.output and "Courriel" in shown.output
    # Jean is kept without his mistyped email: a warning, listed apart from the rejects
    assert "Kept with warnings (values left out): the first 1 of 1" in shown.output
    assert "jean@gmial.com" in shown.output  # the value left out (its reason may wrap)
    assert "0 reject(s)." in shown.output
    as_json = json.loads(runner.invoke(app, ["imports", "show", str(batch), "--json"]).stdout)
    assert as_json["id"] == batch and as_json["rejects_total"] == 0
    assert as_json["value_warnings_total"] == 1
