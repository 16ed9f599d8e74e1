"""Bad input, each a test: empty file, header only, wrong delimiter, mixed encodings, a 10 MB
field, duplicate rows, orders for unknown products or persons, malformed JSON, an Excel file
with merged cells and formulas, concurrent imports of overlapping files."""

from __future__ import annotations

import re
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from closedloop.errors import ValidationFailed
from closedloop.ingest.service.runner import Summary

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]


def test_empty_file(write: Write, load: Load) -> None:
    with pytest.raises(ValidationFailed, match="The file is empty"):
        load(write("empty.csv", ""))
    with pytest.raises(ValidationFailed, match="no header"):
        load(write("blank.csv", "\n\n  \n"))


def test_header_only(write: Write, load: Load, rows: Rows) -> None:
    summary = load(write("header.csv", "external_id,given_name,family_name\n"))
    assert summary.status == "done"
    assert summary.counts["rows"] == 0
    assert any("no data rows" in w for w in summary.warnings)
    assert rows("SELECT COUNT(*) FROM persons") == [(0,)]


def test_wrong_delimiter(write: Write, load: Load, rows: Rows) -> None:
    content = "external_id;given_name;family_name\nW1;Jean;Dupont\n"
    path = write("semicolons.csv", content)
    with pytest.raises(ValidationFailed) as info:
        load(path, delimiter=",")
    messages = " ".join(e["message"] for e in info.value.errors)
    assert "delimiter is probably ';'" in messages
    assert load(path).counts["new"] == 1  # detected when not forced
    tsv = write("tabs.tsv", content.replace(";", "\t"))
    assert load(tsv, source="other").counts["new"] == 1


def test_a_row_split_by_a_stray_delimiter_is_rejected(write: Write, load: Load) -> None:
    content = "external_id,family_name,locality\nS1,Dupont,Paris\nS2,Martin,Paris, France,extra\n"
    summary = load(write("stray.csv", content))
    assert summary.counts["new"] == 1 and summary.counts["rejected"] == 1
    assert "5 cells but the header has 3" in summary.rejects[0]["reason"]


def test_mixed_encodings(write: Write, load: Load, rows: Rows) -> None:
    utf8 = "external_id,given_name,family_name,locality\nM1,Hélène,Dupré,Besançon\n".encode()
    latin = "M2,Jérôme,Lefèvre,Orléans\n".encode("cp1252")
    summary = load(write("mixed.csv", utf8 + latin))
    assert summary.counts["new"] == 2
    assert rows("SELECT given_name, family_name FROM persons ORDER BY external_id") == [
        ("Hélène", "Dupré"),
        ("Jérôme", "Lefèvre"),
    ]
    assert any("mixed encodings" in w for w in summary.warnings)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "gb18030"])
def test_legacy_encodings(write: Write, load: Load, rows: Rows, encoding: str) -> None:
    names = {"cp1252": ("Müller", "Zoë"), "gb18030": ("王", "伟"), "utf-8-sig": ("Ștefan", "Ana")}
    family, given = names[encoding]
    lines = "".join(f"E{i},{given},{family}\n" for i in range(40))
    summary = load(write("enc.csv", "external_id,given_name,family_name\n" + lines, encoding))
    assert summary.counts["new"] == 40
    assert rows("SELECT DISTINCT family_name FROM persons") == [(family,)]


def test_a_10_mb_field(write: Write, load: Load, rows: Rows) -> None:
    huge = "x" * (10 * 1024 * 1024)
    content = f'external_id,family_name\nB1,Dupont\nB2,"{huge}"\nB3,Martin\n'
    summary = load(write("huge.csv", content))
    assert summary.counts["new"] == 2 and summary.counts["rejected"] == 1
    reject = summary.rejects[0]
    assert reject["line"] == 3 and "too long" in reject["reason"]
    assert len(reject["value"]) < 300 and "10,485,760 characters" in reject["value"]


def test_duplicate_rows_inside_one_file(write: Write, load: Load, rows: Rows) -> None:
    content = (
        "external_id,given_name,family_name\n"
        "D1,Jean,Dupont\nD2,Ana,Pop\nD1,Jean,Dupont\nD2,Anna,Pop\n"
    )
    path = write("dup.csv", content)
    summary = load(path)
    assert summary.counts["new"] == 2 and summary.counts["duplicates"] == 2
    reasons = [r["reason"] for r in summary.rejects]
    assert "the same id as line 2 (an identical row)" in reasons[0]
    assert "the same id as line 3;" in reasons[1]
    assert rows("SELECT given_name FROM persons WHERE external_id = 'D2'") == [("Ana",)]
    again = load(path)  # idempotent: the first occurrence still wins
    assert again.counts["unchanged"] == 2 and again.counts["duplicates"] == 2
    assert rows("SELECT given_name FROM persons WHERE external_id = 'D2'") == [("Ana",)]


def test_duplicates_across_chunks(write: Write, load: Load, rows: Rows) -> None:
    lines = "".join(f"X{i},P{i}\n" for i in range(30)) + "X3,Other\n"
    summary = load(write("chunks.csv", "external_id,family_name\n" + lines), chunk_size=7)
    assert summary.counts["new"] == 30 and summary.counts["duplicates"] == 1
    assert "line 5" in summary.rejects[0]["reason"]


def test_orders_for_unknown_products_or_persons(write: Write, load: Load, rows: Rows) -> None:
    load(write("p.csv", "external_id,family_name\nC1,Dupont\n"))
    load(write("prod.csv", 'sku,name,unit_price\nBK-1,Livre,"12,50"\n'), kind="products")
    orders = load(
        write(
            "o.csv",
            "order_id,customer_id,order_date,total\nO1,C1,2024-03-05,25\nO2,C99,2024-03-05,10\n",
        ),
        kind="orders",
    )
    assert orders.counts["new"] == 1 and orders.counts["rejected"] == 1
    assert "unknown person 'C99'" in orders.rejects[0]["reason"]
    lines = load(
        write("l.csv", "order_id,sku,qty\nO1,BK-1,2\nO1,XX-9,1\nO2,BK-1,1\n"), kind="order_lines"
    )
    assert lines.counts["new"] == 1 and lines.counts["rejected"] == 2
    reasons = " ".join(r["reason"] for r in lines.rejects)
    assert "unknown product 'XX-9'" in reasons and "unknown order 'O2'" in reasons
    assert rows("SELECT quantity, unit_price, amount FROM order_lines")[0][2] == pytest.approx(25)


def test_malformed_json(write: Write, load: Load, rows: Rows) -> None:
    with pytest.raises(ValidationFailed, match="Malformed JSON"):
        load(write("bad.json", '{"persons": [{"external_id": "J1",}]}'))
    broken = (
        '[\n{"external_id": "J1", "family_name": "A"},\n{"external_id": "J2", "family_name": }\n]'
    )
    with pytest.raises(ValidationFailed, match="line 3, column 38"):
        load(write("broken.json", broken))  # found while reading the first records
    records = ",\n".join(f'{{"external_id": "J{i}", "family_name": "F{i}"}}' for i in range(1500))
    late = (
        "[\n" + records.replace('"J1200", "family_name": "F1200"', '"J1200", "family_name"') + "\n]"
    )
    summary = load(write("late.json", late), chunk_size=500)
    assert summary.status == "failed"
    assert summary.error is not None and "line 1202" in summary.error
    assert rows("SELECT COUNT(*) FROM persons") == [(1000,)]  # the chunks before the error
    ndjson = '{"external_id": "N1", "family_name": "A"}\n{"external_id": "N2",\n'
    partial = load(write("bad.ndjson", ndjson), source="nd")
    assert partial.counts["new"] == 1 and partial.counts["rejected"] == 1
    assert "malformed JSON" in partial.rejects[0]["reason"]


def _cached(path: Path, values: dict[str, str]) -> None:
    """Give formula cells the value a spreadsheet program would have saved with them."""
    with zipfile.ZipFile(path) as src:
        items = {name: src.read(name) for name in src.namelist()}
    sheet = items["xl/worksheets/sheet1.xml"].decode()
    for ref, value in values.items():
        sheet = re.sub(
            rf'<c r="{ref}"(?: t="\w+")?><f>(.*?)</f><v ?/?>(?:</v>)?',
            lambda m, v=value: (
                f'<c r="{m.group(0)[6:].split(chr(34))[0]}" t="str"><f>{m.group(1)}</f><v>{v}</v>'
            ),
            sheet,
        )
    items["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w") as out:
        for name, data in items.items():
            out.writestr(name, data)


def test_excel_with_merged_cells_and_formulas(tmp_path: Path, load: Load, rows: Rows) -> None:
    wb = Workbook()
    ws = wb.active
    ws["A1"] = "Customer list 2024"
    ws.merge_cells("A1:E1")
    ws.append(["N° client", "Prénom", "Nom", "Nom complet", "Ville"])
    ws.append(["X1", "Jean", "Dupont", '=B3&" "&C3', "Lyon"])
    ws.append(["X2", "Ana", "Pop", '=B4&" "&C4', None])
    ws.append(["X3", "Eva", "Nowak", '=B5&" "&C5', None])
    ws.merge_cells("E3:E5")  # one town for the three rows
    path = tmp_path / "clients.xlsx"
    wb.save(path)
    _cached(path, {"D3": "Jean Dupont", "D4": "Ana Pop"})  # D5 was never calculated
    summary = load(path, ignore=["Nom complet"])
    assert summary.counts["new"] == 3
    assert rows(
        "SELECT p.external_id, a.locality FROM persons p JOIN addresses a "
        "ON a.person_id = p.id ORDER BY p.external_id"
    ) == [("X1", "Lyon"), ("X2", "Lyon"), ("X3", "Lyon")]
    with_formula = load(
        path, source="full", explicit={"Nom complet": "full_name"}, ignore=["Prénom", "Nom"]
    )
    assert with_formula.counts["new"] == 2 and with_formula.counts["rejected"] == 1
    reject = with_formula.rejects[0]
    assert reject["line"] == 5 and "formula" in reject["reason"] and "save it" in reject["reason"]
    assert rows(
        "SELECT given_name, family_name FROM persons WHERE source_system = 'full' "
        "ORDER BY external_id"
    ) == [("Jean", "Dupont"), ("Ana", "Pop")]


def test_concurrent_imports_of_overlapping_files(write: Write, load: Load, rows: Rows) -> None:
    header = "external_id,given_name,family_name\n"
    first = write("a.csv", header + "".join(f"K{i},A{i},Common\n" for i in range(0, 600)))
    second = write("b.csv", header + "".join(f"K{i},A{i},Common\n" for i in range(300, 900)))
    results: list[Summary] = []
    errors: list[BaseException] = []

    def run(path: Path) -> None:
        try:
            results.append(load(path, chunk_size=50))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert rows("SELECT COUNT(*), COUNT(DISTINCT external_id) FROM persons") == [(900, 900)]
    assert sum(r.counts["new"] for r in results) == 900
    assert sum(r.counts["new"] + r.counts["unchanged"] for r in results) == 1200


def test_numbers_too_large_for_their_column_are_rejected_on_every_store(
    write: Write, load: Load, rows: Rows
) -> None:
    load(write("p.csv", "external_id,family_name\nC1,Dupont\n"))
    load(write("products.csv", "sku,name,unit_price\nBK-1,Book,12.50\nBIG,Yacht,999999999999.99\n"),
         kind="products")  # fmt: skip
    orders = (
        "order_id,customer_id,order_date,total_amount\n"
        "O-1,C1,2024-03-05,100.00\nO-2,C1,2024-03-05,1000000000000\n"
    )
    summary = load(write("orders.csv", orders), kind="orders")
    assert summary.counts["new"] == 1 and summary.counts["rejected"] == 1
    assert (summary.rejects[0]["line"], summary.rejects[0]["field"]) == (3, "total_amount")
    assert "at most 999,999,999,999.99" in summary.rejects[0]["reason"]
    lines = (
        "order_id,sku,qty,unit_price,amount\n"
        "O-1,BK-1,2,12.50,\n"  # 25.00
        "O-1,BK-1,1,12.50,2000000000000\n"  # the amount itself
        "O-1,BK-1,1000000000,1.00,\n"  # the quantity
        "O-1,BIG,2,,\n"  # quantity × the product's price
    )
    summary = load(write("lines.csv", lines), kind="order_lines")
    assert summary.counts["new"] == 1 and summary.counts["rejected"] == 3
    got = [(r["line"], r["field"]) for r in summary.rejects]
    assert got == [(3, "amount"), (4, "quantity"), (5, "amount")]
    assert "at most 999,999,999.999" in summary.rejects[1]["reason"]
    assert rows("SELECT COUNT(*) FROM order_lines") == [(1,)]
    organisations = (
        'name,annual_revenue,employee_count\nACME,"1 234,50",42\n'
        "Huge,100000000000000,\nMany,,3000000000\n"
    )
    summary = load(write("org.csv", organisations), kind="organisations")
    # the organisations are kept without the values too large (warnings, issue 12)
    assert summary.counts["new"] == 3 and summary.counts["kept_with_warnings"] == 2
    assert [(r["line"], r["field"]) for r in summary.value_warnings] == [
        (3, "annual_revenue"),
        (4, "employee_count"),
    ]
    assert "at most 2,147,483,647" in summary.value_warnings[1]["reason"]
    assert rows("SELECT annual_revenue, employee_count FROM organisations WHERE name = 'Huge'") == [
        (None, None)
    ]
