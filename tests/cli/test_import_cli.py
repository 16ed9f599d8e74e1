"""``closedloop import``, ``imports`` and ``export``: JSON summaries, a killed import resumed
without duplicates, rollback and exports from the command line."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, text
from typer.testing import CliRunner

from closedloop.cli.main import app

runner = CliRunner()
ROWS = 60_000
CSV = (
    "external_id;Prénom;Nom;Date de naissance;Courriel;Code postal;Ville;Pays;Enfants\n"
    "C1;jean;DUPONT;05/03/1980;jean@gmial.com;75011;paris;France;2\n"
    "C2;Ana;Pop;1985-07-12;ana@example.ro;010011;București;România;1\n"
)


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_import_json_summary_and_batches(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(CSV, "utf-8")
    refused = runner.invoke(app, ["import", "persons", str(path), "--source", "crm"])
    assert refused.exit_code == 1
    assert "Enfants" in refused.output and "--as-attribute" in refused.output
    result = runner.invoke(
        app,
        [
            "import",
            "persons",
            str(path),
            "--source",
            "crm",
            "--as-attribute",
            "Enfants:number",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # Jean is kept without his mistyped email: a warning, not a reject (issue 12)
    assert summary["counts"]["new"] == 2 and summary["counts"]["rejected"] == 0
    assert summary["counts"]["kept_with_warnings"] == 1
    assert summary["value_warnings"][0]["field"] == "email"
    assert "did you mean jean@gmail.com" in summary["value_warnings"][0]["reason"]
    batch = summary["batch_id"]
    listed = json.loads(runner.invoke(app, ["imports", "list", "--json"]).stdout)
    assert listed[0]["id"] == batch
    shown = json.loads(runner.invoke(app, ["imports", "show", str(batch), "--json"]).stdout)
    assert shown["rejects_total"] == 0 and shown["value_warnings_total"] == 1
    printed = runner.invoke(app, ["imports", "show", str(batch)])
    assert "Kept with warnings" in printed.output and "gmial" in printed.output
    warnings = tmp_path / "warnings.csv"
    got = runner.invoke(app, ["imports", "rejects", str(batch), "--warnings", "-o", str(warnings)])
    assert got.exit_code == 0, got.output
    assert "gmial" in warnings.read_text("utf-8-sig")
    again = runner.invoke(app, ["import", "persons", str(path), "--source", "crm2",
                                "--as-attribute", "Enfants:number"])  # fmt: skip
    assert "1 kept with warnings" in again.output and "gmial" in again.output
    dry = json.loads(
        runner.invoke(
            app,
            [
                "import",
                "persons",
                str(path),
                "--source",
                "crm",
                "--as-attribute",
                "Enfants:number",
                "--dry-run",
                "--json",
            ],
        ).stdout
    )
    assert dry["status"] == "dry_run" and dry["counts"]["unchanged"] == 2
    asked = runner.invoke(app, ["imports", "rollback", str(batch)], input="n\n")
    assert asked.exit_code == 1  # not confirmed: nothing done
    assert "removes 2 persons, 0 orders and 0 consents" in asked.output
    rolled = runner.invoke(app, ["imports", "rollback", str(batch), "--json"])
    assert rolled.exit_code == 0, rolled.output
    done = json.loads(rolled.stdout)
    assert done["persons_removed"] == 2 and done["persons_kept"] == 0
    assert done["rolled_back_at"]
    assert _count(engine, "SELECT COUNT(*) FROM persons WHERE source_system = 'crm'") == 0
    twice = runner.invoke(app, ["imports", "rollback", str(batch), "--yes"])
    assert twice.exit_code == 1 and "already rolled back" in twice.output


def test_export_commands(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("external_id,given_name,family_name\nX1,=cmd,Dupont\n", "utf-8")
    assert runner.invoke(app, ["import", "persons", str(path)]).exit_code == 0
    out = tmp_path / "persons.csv"
    result = runner.invoke(app, ["export", "persons", str(out)])
    assert result.exit_code == 0, result.output
    assert "'=cmd" in out.read_text("utf-8-sig")
    parquet = tmp_path / "orders.parquet"
    assert runner.invoke(app, ["export", "orders", str(parquet)]).exit_code == 0
    pid = _count(engine, "SELECT id FROM persons")
    doc = tmp_path / "person.json"
    result = runner.invoke(app, ["export", "person", str(pid), str(doc)])
    assert result.exit_code == 0, result.output
    assert json.loads(doc.read_text())["person"]["family_name"] == "Dupont"
    assert runner.invoke(app, ["export", "person", "999999", str(doc)]).exit_code == 1


def test_csv_export_keeps_phone_numbers_and_neutralises_formulas(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "external_id,given_name,family_name,phone,country\n"
        "P1,Jean,+1+2,05 57 15 96 39,FR\n"
        "P2,-2+3,@SUM(A1),+40 721 234 567,RO\n",
        "utf-8",
    )
    assert runner.invoke(app, ["import", "persons", str(path)]).exit_code == 0
    out = tmp_path / "persons.csv"
    assert runner.invoke(app, ["export", "persons", str(out)]).exit_code == 0
    rows = {r["external_id"]: r for r in csv.DictReader(io.StringIO(out.read_text("utf-8-sig")))}
    assert rows["P1"]["phone"] == "+33557159639" and rows["P2"]["phone"] == "+40721234567"
    assert rows["P1"]["family_name"] == "'+1+2"
    assert rows["P2"]["given_name"] == "'-2+3"
    assert rows["P2"]["family_name"].upper() == "'@SUM(A1)"  # names are normalised


def _big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("external_id,given_name,family_name,email,phone,postal_code,country\n")
        for i in range(ROWS):
            phone = f"06 12 {i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d}"
            fh.write(
                f"K{i:06d},Given{i % 97},FAMILY{i % 1013},k{i}@example.org,{phone},"
                f"750{i % 20 + 1:02d},FR\n"
            )
    return path


def test_an_import_killed_halfway_resumes_without_duplicates(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    path = _big_file(tmp_path)
    env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": database_url}
    cli = str(Path(sys.executable).parent / "closedloop")
    command = [cli, "import", "persons", str(path), "--chunk-size", "500", "--workers", "0"]
    command += ["--commit-rows", "1000"]
    command.append("--json")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        done = _count(engine, "SELECT COALESCE(MAX(rows_done), 0) FROM import_batches")
        if done >= 1000:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = _count(engine, "SELECT COUNT(*) FROM persons")
    assert 1000 <= stored < ROWS
    assert stored % 1000 == 0  # whole transactions only, each with its checkpoint
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["resumed_at_row"] == stored
    assert summary["counts"]["rows"] == ROWS
    assert _count(engine, "SELECT COUNT(*) FROM persons") == ROWS
    assert _count(engine, "SELECT COUNT(DISTINCT external_id) FROM persons") == ROWS
    assert _count(engine, "SELECT COUNT(*) FROM emails") == ROWS
    assert _count(engine, "SELECT COUNT(*) FROM addresses") == ROWS
    assert _count(engine, "SELECT COUNT(*) FROM import_batches") == 1


def test_ctrl_c_stops_an_import_cleanly_and_a_rerun_resumes_it(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """Ctrl-C reaches the whole process group (writer, read-ahead, workers): the writer stops
    at its next commit and says how to resume, no process prints a traceback, and the rerun
    completes the batch."""
    path = _big_file(tmp_path)
    env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": database_url}
    cli = str(Path(sys.executable).parent / "closedloop")
    command = [cli, "import", "persons", str(path), "--chunk-size", "500", "--workers", "2"]
    command += ["--commit-rows", "1000"]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if _count(engine, "SELECT COALESCE(MAX(rows_done), 0) FROM import_batches") >= 1000:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Stopping at the next commit" in err and "Interrupted" in err, err
    assert "run the same command" in err, err
    assert "Traceback" not in err, err
    stored = _count(engine, "SELECT COUNT(*) FROM persons")
    assert 1000 <= stored < ROWS, (stored, err)
    rerun = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["resumed_at_row"] == stored, (rerun.stdout[:2000], err)
    assert _count(engine, "SELECT COUNT(*) FROM persons") == ROWS
    assert _count(engine, "SELECT COUNT(DISTINCT external_id) FROM persons") == ROWS
