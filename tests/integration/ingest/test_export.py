"""Export: tables and the persons list to CSV, Excel and Parquet, formulas neutralised; a
person's full data as JSON (right of access)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from closedloop.errors import NotFound, ValidationFailed
from closedloop.exports.person import person_document
from closedloop.exports.tables import export_table
from closedloop.ingest.service.runner import Summary

Load = Callable[..., Summary]
Write = Callable[..., Path]

EVIL = 'external_id,given_name,family_name,email\nE1,=HYPERLINK("x"),@SUM(A1),e1@example.org\n'


def test_csv_export_neutralises_formulas(
    write: Write, load: Load, engine: Engine, tmp_path: Path
) -> None:
    load(write("evil.csv", EVIL))
    out = tmp_path / "persons.csv"
    assert export_table(engine, "persons", out) == 1
    with out.open(encoding="utf-8-sig") as fh:
        row = next(csv.DictReader(fh))
    assert row["given_name"].startswith("'=") and row["family_name"].startswith("'@")
    assert row["email"] == "e1@example.org"


def test_excel_and_parquet_exports(
    write: Write, load: Load, engine: Engine, tmp_path: Path
) -> None:
    load(write("evil.csv", EVIL + "E2,Ana,Pop,ana@example.ro\n"))
    xlsx = tmp_path / "persons.xlsx"
    assert export_table(engine, "persons", xlsx) == 2
    sheet = load_workbook(xlsx).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    header = values[0]
    assert values[1][header.index("given_name")] == '\'=HYPERLINK("x")'
    parquet = tmp_path / "emails.parquet"
    assert export_table(engine, "emails", parquet) == 2
    table = pq.read_table(parquet)
    assert sorted(table.column("address").to_pylist()) == ["ana@example.ro", "e1@example.org"]
    assert str(table.schema.field("id").type) == "int64"
    with pytest.raises(ValidationFailed, match="No table"):
        export_table(engine, "nope", tmp_path / "x.csv")
    users = tmp_path / "users.csv"
    export_table(engine, "users", users)
    assert "password_hash" not in users.read_text()


def test_person_full_data(
    write: Write, load: Load, factory: sessionmaker[Session], rows: Any
) -> None:
    load(
        write("p.csv", "external_id,given_name,family_name,email,VAT\nP1,Jean,Dupont,j@d.fr,FR1\n"),
        as_identifier=["VAT"],
    )
    pid = rows("SELECT id FROM persons")[0][0]
    with factory() as s:
        doc = person_document(s, pid)
    assert doc["person"]["given_name"] == "Jean"
    assert doc["person"]["emails"][0]["address"] == "j@d.fr"
    assert doc["identifiers"][0]["value"] == "FR1"
    assert doc["origins"]["record"]["source_system"] == "erp"
    json.dumps(doc)  # JSON-ready
    with factory() as s, pytest.raises(NotFound):
        person_document(s, 999_999)
