"""Header suggestions in five languages, the refusal of unmapped columns, and file reading."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from closedloop.errors import ValidationFailed
from closedloop.ingest.map.fields import get_kind
from closedloop.ingest.map.mapping import MappingRequest, resolve, suggest
from closedloop.ingest.read import RowProblem, open_table
from closedloop.ingest.read.delimited import detect_delimiter, detect_encoding

PERSONS = get_kind("persons")


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("external_id", "external_id"),
        ("given_name", "given_name"),
        ("family_name", "family_name"),
        ("birth_date", "birth_date"),
        ("postal_code", "postal_code"),
        ("locality", "locality"),
        ("region", "region"),
        ("country", "country"),
        ("email", "email"),
        ("phone", "phone"),
        ("Nom", "family_name"),
        ("Prénom", "given_name"),
        ("Code postal", "postal_code"),
        ("Ville", "locality"),
        ("Téléphone", "phone"),
        ("Courriel", "email"),
        ("Date de naissance", "birth_date"),
        ("N° client", "external_id"),
        ("Nombre", "given_name"),
        ("Apellidos", "family_name"),
        ("Código postal", "postal_code"),
        ("Localidad", "locality"),
        ("Correo electrónico", "email"),
        ("Vorname", "given_name"),
        ("Nachname", "family_name"),
        ("Strasse", "line1"),
        ("Straße", "line1"),
        ("PLZ", "postal_code"),
        ("Ort", "locality"),
        ("Geburtsdatum", "birth_date"),
        ("Handy", "mobile"),
        ("Prenume", "given_name"),
        ("Nume", "family_name"),
        ("Localitate", "locality"),
        ("Cod poștal", "postal_code"),
        ("Județ", "region"),
        ("Țara", "country"),
        ("Customer Email", "email"),
        ("Kunden-PLZ", "postal_code"),
    ],
)
def test_headers_in_five_languages(header: str, field: str) -> None:
    assert suggest(PERSONS, [header]) == {header: field}


def test_name_next_to_a_first_name_is_the_family_name() -> None:
    assert suggest(PERSONS, ["Vorname", "Name"]) == {"Vorname": "given_name", "Name": "family_name"}
    assert suggest(PERSONS, ["Name", "Email"])["Name"] == "full_name"


def test_unmapped_columns_are_refused_with_the_ways_out() -> None:
    with pytest.raises(ValidationFailed) as info:
        resolve(PERSONS, ["email", "Kids", "Loyalty no"], MappingRequest())
    assert "'Kids', 'Loyalty no'" in info.value.detail
    messages = " ".join(e["message"] for e in info.value.errors)
    assert "--as-attribute" in messages and "--as-identifier" in messages and "--ignore" in messages


def test_the_one_step_options() -> None:
    mapping = resolve(
        PERSONS,
        ["email", "Kids", "Loyalty no", "Notes"],
        MappingRequest(
            as_attribute=["Kids:number"], as_identifier=["Loyalty no:loyalty"], ignore=["Notes"]
        ),
    )
    assert mapping.as_json() == {
        "email": "email",
        "Kids": "attribute:kids:number",
        "Loyalty no": "identifier:loyalty",
        "Notes": "ignore",
    }


def test_a_file_needs_a_key_column() -> None:
    with pytest.raises(ValidationFailed, match="needs a column"):
        resolve(get_kind("orders"), ["total"], MappingRequest())


def test_encodings_are_detected() -> None:
    text = "nom;ville\nDupont;Besançon\nMüller;Zürich\n"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(codecs.BOM_UTF8 + text.encode("utf-8")) == "utf-8-sig"
    assert detect_encoding(text.encode("cp1252") * 50) == "cp1252"
    chinese = "姓名,城市\n王伟,北京\n李娜,上海\n张敏,广州\n" * 30
    assert detect_encoding(chinese.encode("gb18030")) == "gb18030"


def test_delimiters_are_detected() -> None:
    assert detect_delimiter("a;b;c\n1;2;3\n") == ";"
    assert detect_delimiter("a\tb\tc\n1\t2\t3\n") == "\t"
    assert detect_delimiter("a|b\n1|2\n") == "|"
    assert detect_delimiter('a,b\n"1,5",2\n') == ","


def test_every_format_reads_the_same_rows(tmp_path: Path) -> None:
    rows = [
        {"given_name": "Ana", "postal_code": "010011"},
        {"given_name": "王伟", "postal_code": None},
    ]
    (tmp_path / "p.csv").write_text("given_name,postal_code\nAna,010011\n王伟,\n", "utf-8")
    (tmp_path / "p.json").write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
    (tmp_path / "p.ndjson").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8"
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet")
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["given_name", "postal_code"])
    ws.append(["Ana", "010011"])
    ws.append(["王伟", None])
    wb.save(tmp_path / "p.xlsx")
    for name in ("p.csv", "p.json", "p.ndjson", "p.parquet", "p.xlsx"):
        table = open_table(tmp_path / name)
        assert table.headers == ["given_name", "postal_code"], name
        assert [v for _, v in table.rows(0)] == [["Ana", "010011"], ["王伟", None]], name


def test_a_record_the_reader_cannot_read_comes_as_a_problem_not_as_cells(tmp_path: Path) -> None:
    path = tmp_path / "p.ndjson"
    lines = [json.dumps({"id": str(n), "name": "Ann"}) for n in range(1000)]
    lines += ['{"id": "x", "name": ', '{"id": "y", "zip": "75001"}']
    path.write_text("\n".join(lines), "utf-8")
    rows = list(open_table(path).rows(0))
    assert rows[0] == (1, ["0", "Ann"])
    malformed, unknown = rows[1000][1], rows[1001][1]
    assert isinstance(malformed, RowProblem) and "malformed JSON" in malformed.reason
    assert isinstance(unknown, RowProblem) and unknown.field == "zip"
