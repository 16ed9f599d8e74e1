"""One bad optional value no longer loses the customer (issue 12): the value is left out and
reported as a warning on the kept row; a row is rejected only when it identifies nobody or
holds a control character."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from closedloop.contacts.validation import NOBODY
from closedloop.ingest.service.runner import Summary

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]

FAULTY = (
    "external_id,given_name,family_name,email,phone,birth_date,line1,postal_code,country\n"
    "F1,Jean,Dupont,jean@example.org,12,,,,FR\n"
    "F2,Anne,Martin,anne@example.org,,19551192,,,FR\n"
    "F3,Paul,Petit,paul@example.org,,31/02/1980,,,FR\n"
    "F4,Luc,Durand,luc@example.org,,01/01/1450,,,FR\n"
    "F5,Eve,Moreau,eve@example.org,,01/01/2093,,,FR\n"
    "F6,Max,Bernard,not-an-email,0612345678,,,,FR\n"
    "F7,,,,,12/03/1961,12 rue Oberkampf,75011,FR\n"
    "F8,,,,,12/03/1961,,,FR\n"
    "F9,,,bad@,12,,,,FR\n"
)


def test_faulty_optional_values_are_left_out_with_a_warning(
    write: Write, load: Load, rows: Rows
) -> None:
    summary = load(write("faulty.csv", FAULTY))
    assert summary.counts["new"] == 7
    assert summary.counts["kept_with_warnings"] == 6
    assert summary.counts["rejected"] == 2
    warned = {(w["line"], w["field"], w["value"]) for w in summary.value_warnings}
    assert warned == {
        (2, "phone", "12"),
        (3, "birth_date", "19551192"),
        (4, "birth_date", "31/02/1980"),
        (5, "birth_date", "01/01/1450"),
        (6, "birth_date", "01/01/2093"),
        (7, "email", "not-an-email"),
    }
    assert all("left out" in w["reason"] for w in summary.value_warnings)
    # the person, their email and their other values are kept
    assert rows(
        "SELECT p.external_id, e.address FROM persons p JOIN emails e ON e.person_id = p.id "
        "WHERE p.external_id IN ('F1', 'F3') ORDER BY 1"
    ) == [("F1", "jean@example.org"), ("F3", "paul@example.org")]
    assert rows("SELECT birth_date FROM persons WHERE external_id = 'F3'") == [(None,)]
    assert rows(
        "SELECT COUNT(*) FROM phones ph JOIN persons p ON p.id = ph.person_id "
        "WHERE p.external_id = 'F6'"
    ) == [(1,)]
    # a birth date and an address identify someone (the FEBRL shape); a birth date alone not
    assert rows("SELECT COUNT(*) FROM persons WHERE external_id = 'F7'") == [(1,)]
    refused = {(r["line"], r["field"]) for r in summary.rejects}
    assert (9, "family_name") in refused
    assert any(r["line"] == 9 and r["reason"] == NOBODY for r in summary.rejects)
    # a row that names nobody once its faulty values are left out lists them as reasons
    assert {(r["field"], r["value"]) for r in summary.rejects if r["line"] == 10} >= {
        ("email", "bad@"),
        ("phone", "12"),
    }
    assert {w["line"] for w in summary.value_warnings}.isdisjoint({9, 10})


def test_control_characters_refuse_the_row_naming_the_field(
    write: Write, load: Load, rows: Rows
) -> None:
    content = (
        "external_id,given_name,family_name,line2\nC1,Je\x00an,Dupont,\nC2,Anne,Martin,a\x1bb\n"
    )
    summary = load(write("controls.csv", content))
    assert summary.counts["rejected"] == 2 and summary.counts["new"] == 0
    by_line = {r["line"]: r for r in summary.rejects}
    assert by_line[2]["field"] == "given_name"
    assert "control character (U+0000)" in by_line[2]["reason"]
    assert by_line[2]["value"] == "Je\\u0000an"  # shown, and storable on PostgreSQL
    assert by_line[3]["field"] == "line2"
    assert "U+001B" in by_line[3]["reason"]
    assert rows("SELECT COUNT(*) FROM persons") == [(0,)]
