"""Records sharing an identifier (issue 12 item 2), as a user meets them: in one file, across
files and across sources, imported with ``--as-identifier``; ``dedupe run`` links them by a
deterministic rule that outranks the model and says so in the waterfall; ``dedupe unmerge``
undoes it, and the next run leaves the pair apart."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from typer.testing import CliRunner

from closedloop.cli.main import app

runner = CliRunner()

HEADER = "external_id,given_name,family_name,birth_date,email,NIR\n"
# Margaret Thompson's national id on three rows: twice in the CRM file (the second with her
# married name and a new email), once in the web shop's file. Nothing but the identifier
# ties the CRM rows together: the model alone would keep them apart.
CRM = (
    HEADER
    + "C1,Margaret,Thompson,1961-04-02,mthompson@example.com,2610475123456\n"
    + "C2,Peggy,Wallace,1961-02-04,peggy.w@example.org,2610475123456\n"
    + "C3,Oskar,Lindqvist,1979-11-23,oskar@example.se,1791175999999\n"
)
SHOP = HEADER + "W1,Margaret,Thompson,,mthompson@example.com,2610475123456\n"
# Many customers typed the same dummy number: a placeholder, not an identifier.
DUMMY = HEADER + "".join(
    f"D{i},Given{i},Family{i},{1940 + i}-01-01,d{i}@example.com,0000000000000\n" for i in range(60)
)


def _import(path: Path, source: str) -> None:
    result = runner.invoke(
        app,
        ["import", "persons", str(path), "--source", source, "--as-identifier", "NIR:national_id"],
    )
    assert result.exit_code == 0, result.output


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def _run() -> dict[str, Any]:
    result = runner.invoke(app, ["dedupe", "run", "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_shared_identifiers_are_linked_by_rule_explained_and_reversible(
    engine: Engine, tmp_path: Path
) -> None:
    for name, content, source in (("crm.csv", CRM, "crm"), ("shop.csv", SHOP, "shop"),
                                  ("dummy.csv", DUMMY, "crm")):  # fmt: skip
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        _import(path, source)
    assert _rows(engine, "SELECT COUNT(*) FROM persons") == [(64,)]  # nobody rejected

    report = _run()
    assert report["rule_pairs"] == 3  # C1-C2, C1-W1, C2-W1
    assert report["placeholders"] == {"national_id=0000000000000": 60}
    assert report["merges"] == 2
    golden = _rows(
        engine,
        "SELECT DISTINCT COALESCE(merged_into_id, id) FROM persons "
        "WHERE external_id IN ('C1', 'C2', 'W1')",
    )
    assert len(golden) == 1
    assert _rows(engine, "SELECT COUNT(*) FROM persons WHERE merged_into_id IS NOT NULL") == [(2,)]

    out = tmp_path / "pairs.csv"
    assert runner.invoke(app, ["dedupe", "export-pairs", str(out)]).exit_code == 0
    pairs = {(r["external_id_l"], r["external_id_r"]): r for r in csv.DictReader(out.open())}
    married = pairs.get(("C1", "C2")) or pairs[("C2", "C1")]
    assert float(married["match_probability"]) == 1.0
    assert married["status"] == "auto_merged"
    (stored,) = _rows(
        engine, f"SELECT explanation FROM duplicate_candidates WHERE id = {married['pair_id']}"
    )[0]
    explanation = json.loads(stored) if isinstance(stored, str) else stored  # JSON on PostgreSQL
    assert explanation[0] == {"comparison": "rule", "level": "same national_id", "weight": 0.0}
    steps = {s["comparison"]: s for s in explanation}
    assert steps["given"]["level"] == "nickname"  # the model's view of the rest stays visible
    assert steps["family"]["weight"] < 0

    # Undo the merge of the married name: apart again, and the next run leaves them apart.
    ids = dict(_rows(engine, "SELECT external_id, id FROM persons"))
    (event,) = _rows(
        engine,
        "SELECT id FROM merge_events WHERE golden_id + source_id = "
        f"{ids['C1'] + ids['C2']} AND golden_id IN ({ids['C1']}, {ids['C2']})",
    )
    undone = runner.invoke(app, ["dedupe", "unmerge", str(event[0]), "--force"])
    assert undone.exit_code == 0, undone.output
    again = _run()
    assert again["merges"] == 0
    apart = _rows(
        engine,
        "SELECT COUNT(DISTINCT COALESCE(merged_into_id, id)) FROM persons "
        "WHERE external_id IN ('C1', 'C2')",
    )
    assert apart == [(2,)]
