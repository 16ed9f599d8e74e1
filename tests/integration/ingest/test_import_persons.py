"""Importing persons: upsert by (source, external id), lineage, validation, postal completion,
dry run, rollback, attributes and identifiers, mapping profiles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from closedloop.errors import Refused, ValidationFailed
from closedloop.ingest.service.batches import rollback_batch
from closedloop.ingest.service.lineage import value_origins
from closedloop.ingest.service.runner import Summary

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]

HEADER = (
    "external_id;given_name;family_name;birth_date;email;phone;line1;postal_code;locality;country\n"
)
FIRST = (
    HEADER
    + "C1;jean;DUPONT;05/03/1980;Jean.Dupont@Example.com;06 12 34 56 78;12 rue de la Roquette;"
    "75011;paris;FR\n"
    "C2;Ana;ȘTEFĂNESCU;1985-07-12;ana@gmail.com;+40721234567;Str. Lipscani 1;010011;"
    "București;RO\n"
    "C3;Hans;MÜLLER;28.02.1970;hans@web.de;089 1234567;Marienplatz 1;80331;;DE\n"
)


def test_plain_english_headers_map_without_a_mapping(write: Write, load: Load, rows: Rows) -> None:
    summary = load(write("p.csv", FIRST))
    assert summary.status == "done"
    assert summary.counts["new"] == 3 and summary.counts["rejected"] == 0
    people = rows(
        "SELECT given_name, family_name, birth_date, source_system, external_id "
        "FROM persons ORDER BY external_id"
    )
    assert [(p[0], p[1]) for p in people] == [
        ("Jean", "Dupont"),
        ("Ana", "Ștefănescu"),
        ("Hans", "Müller"),
    ]
    assert str(people[0][2]).startswith("1980-03-05")
    assert {p[3] for p in people} == {"erp"}
    assert rows("SELECT e164, line_type FROM phones ORDER BY e164") == [
        ("+33612345678", "mobile"),
        ("+40721234567", "mobile"),
        ("+49891234567", "landline"),
    ]
    assert rows("SELECT address FROM emails ORDER BY address")[0] == ("Jean.Dupont@example.com",)


def test_postal_check_completes_and_flags_addresses(write: Write, load: Load, rows: Rows) -> None:
    content = (
        "external_id,family_name,phone,postal_code,locality,country\n"
        "A,Martin,,75011,paris,FR\n"  # valid (case only)
        "B,Müller,,80331,,DE\n"  # locality completed
        "C,Weber,,80331,Hamburg,DE\n"  # suspect
        "D,Popescu,+40721234567,010011,Bucuresti,\n"  # country from the phone
    )
    load(write("a.csv", content))
    found = {
        r[0]: r[1:]
        for r in rows(
            "SELECT p.external_id, a.locality, a.country, a.status, a.status_detail "
            "FROM addresses a JOIN persons p ON p.id = a.person_id"
        )
    }
    assert found["A"][0] == "Paris" and found["A"][2] == "valid"
    assert found["B"][0] == "München" and found["B"][2] == "corrected"
    assert "completed" in found["B"][3]
    assert found["C"][2] == "suspect" and "München" in found["C"][3]
    assert found["D"][1] == "RO" and "phone" in found["D"][3]


def test_same_file_twice_changes_nothing(write: Write, load: Load, rows: Rows) -> None:
    path = write("p.csv", FIRST)
    load(path)
    before = rows("SELECT id, version, updated_at FROM persons ORDER BY id")
    again = load(path)
    assert again.counts["unchanged"] == 3
    assert again.counts["new"] == again.counts["updated"] == 0
    assert rows("SELECT id, version, updated_at FROM persons ORDER BY id") == before
    assert rows("SELECT COUNT(*) FROM emails") == [(3,)]


def test_changed_row_updates_only_changed_fields_with_lineage(
    write: Write, load: Load, rows: Rows, factory: sessionmaker[Session]
) -> None:
    first = load(write("p.csv", FIRST))
    changed = FIRST.replace("05/03/1980", "05/03/1981").replace(
        "Jean.Dupont@Example.com", "jean@dupont.fr"
    )
    second = load(write("p2.csv", changed))
    assert second.counts["updated"] == 1 and second.counts["unchanged"] == 2
    jean = rows("SELECT id, version, birth_date FROM persons WHERE external_id = 'C1'")[0]
    assert jean[1] == 2 and str(jean[2]).startswith("1981-03-05")
    assert rows("SELECT address FROM emails WHERE person_id = :p", p=jean[0]) == [
        ("jean@dupont.fr",)
    ]
    sources = rows(
        "SELECT entity, field, source_system, batch_id FROM value_sources ORDER BY entity, field"
    )
    assert ("person", "birth_date", "erp", second.batch_id) in sources
    assert ("email", "address", "erp", second.batch_id) in sources
    assert not any(s[1] == "family_name" for s in sources)
    with factory() as s:
        origins = value_origins(s, "person", jean[0])
    assert origins["record"]["batch_id"] == first.batch_id
    assert origins["fields"]["birth_date"][0]["batch_id"] == second.batch_id


def test_rows_are_validated_and_faults_reported(write: Write, load: Load, rows: Rows) -> None:
    content = (
        HEADER + "R1;Jean;Dupont;31/02/2024;jean@gmial.com;06 12 34 56 78;;75011;Paris;FR\n"
        "R2;Ana;Pop;1985-07-12;ana@gmail.com;12345;;;;RO\n"
        "R3;Ok;Row;1990-01-01;ok@example.org;;;;;FR\n"
        "R4;;;;jean@gmial.com;12345;;;;FR\n"
    )
    summary = load(write("bad.csv", content))
    # faulty values are left out of kept rows; a row left naming nobody is rejected
    assert summary.counts["new"] == 3 and summary.counts["rejected"] == 1
    assert summary.counts["kept_with_warnings"] == 2
    reasons = {(r["line"], r["field"]): r for r in summary.value_warnings}
    assert "February 2024 has 29 days" in reasons[(2, "birth_date")]["reason"]
    assert "did you mean jean@gmail.com" in reasons[(2, "email")]["reason"]
    assert reasons[(3, "phone")]["value"] == "12345"
    assert {(r["line"], r["field"]) for r in summary.rejects} == {
        (5, "email"),
        (5, "phone"),
        (5, "family_name"),
    }
    assert rows("SELECT external_id FROM persons ORDER BY 1") == [("R1",), ("R2",), ("R3",)]
    assert rows("SELECT birth_date FROM persons WHERE external_id = 'R1'") == [(None,)]


def test_dry_run_counts_without_writing(write: Write, load: Load, rows: Rows) -> None:
    summary = load(write("p.csv", FIRST), dry_run=True)
    assert summary.status == "dry_run"
    assert summary.counts["new"] == 3
    assert rows("SELECT COUNT(*) FROM persons") == [(0,)]
    load(write("p.csv", FIRST))
    changed = load(write("p2.csv", FIRST.replace("Hans", "Hannes")), dry_run=True)
    assert changed.counts["updated"] == 1 and changed.counts["unchanged"] == 2
    assert rows("SELECT given_name FROM persons WHERE external_id = 'C3'") == [("Hans",)]


def test_rollback_restores_updates_and_removes_creations(
    write: Write, load: Load, rows: Rows, engine: Any
) -> None:
    load(write("p.csv", FIRST))
    second = load(
        write("p2.csv", FIRST.replace("Hans", "Hannes") + "C4;Eva;Nowak;;eva@example.pl;;;;;PL\n")
    )
    assert second.counts["updated"] == 1 and second.counts["new"] == 1
    done = rollback_batch(engine, second.batch_id, user="test")
    assert done["removed"] >= 1 and done["restored"] == 1
    assert rows("SELECT given_name FROM persons WHERE external_id = 'C3'") == [("Hans",)]
    assert rows("SELECT COUNT(*) FROM persons") == [(3,)]
    assert rows("SELECT status FROM import_batches WHERE id = :b", b=second.batch_id) == [
        ("rolled_back",)
    ]
    with pytest.raises(Refused, match="already rolled back"):
        rollback_batch(engine, second.batch_id)
    # Importing the changed file again re-applies the change.
    again = load(write("p2.csv", FIRST.replace("Hans", "Hannes")))
    assert again.counts["updated"] == 1


def test_rollback_keeps_the_persons_later_imports_changed(
    write: Write, load: Load, rows: Rows, engine: Any
) -> None:
    first = load(write("p.csv", FIRST))
    load(write("p2.csv", FIRST.replace("Hans", "Hannes")))
    done = rollback_batch(engine, first.batch_id)
    assert done["persons_kept"] == 1 and done["persons_removed"] == 2
    assert done["kept_because"] == {"changes since the import": 1}
    assert rows("SELECT external_id, given_name FROM persons") == [("C3", "Hannes")]


def test_unmapped_columns_stop_the_import(write: Write, load: Load, rows: Rows) -> None:
    content = "external_id,family_name,Kids,Loyalty,Notes\nK1,Kid,2,L-1,x\nK2,Kod,3,L-2,y\n"
    path = write("k.csv", content)
    with pytest.raises(ValidationFailed) as info:
        load(path)
    assert "'Kids', 'Loyalty', 'Notes'" in info.value.detail
    assert rows("SELECT COUNT(*) FROM import_batches") == [(0,)]
    summary = load(
        path, as_attribute=["Kids"], as_identifier=["Loyalty:loyalty_card"], ignore=["Notes"]
    )
    assert summary.counts["new"] == 2
    assert rows("SELECT code, type FROM attribute_definitions") == [("kids", "number")]
    assert rows("SELECT scheme, value FROM identifiers ORDER BY value") == [
        ("loyalty_card", "L-1"),
        ("loyalty_card", "L-2"),
    ]
    # The attribute now exists: its column maps by itself next time.
    again = load(
        write("k2.csv", content.replace("K2,Kod,3", "K2,Kod,4")),
        ignore=["Notes"],
        as_identifier=["Loyalty:loyalty_card"],
    )
    assert again.counts["updated"] == 1
    assert rows(
        "SELECT CAST(value_number AS INTEGER) FROM attribute_values av "
        "JOIN persons p ON p.id = av.person_id WHERE p.external_id = 'K2'"
    ) == [(4,)]


def test_choice_attributes_get_choices_and_labels_match(
    write: Write, load: Load, rows: Rows
) -> None:
    content = "external_id,family_name,Hobbies\nH1,A,Books;Hiking\nH2,B,Randonnée\nH3,C,books\n"
    summary = load(write("h.csv", content), as_attribute=["Hobbies:multi_choice"])
    assert summary.counts["new"] == 3
    codes = {r[0] for r in rows("SELECT code FROM attribute_choices")}
    assert codes == {"books", "hiking", "randonnee"}
    assert rows("SELECT COUNT(*) FROM attribute_values") == [(4,)]
    # Without --as-attribute the existing attribute is closed: an unknown choice is refused.
    # The person is kept without it (a warning).
    closed = load(write("h2.csv", "external_id,family_name,Hobbies\nH4,D,Chess\n"))
    assert closed.counts["kept_with_warnings"] == 1 and closed.counts["rejected"] == 0
    assert "unknown choice 'Chess'" in closed.value_warnings[0]["reason"]


def test_shared_identifiers_are_stored_for_identity_resolution(
    write: Write, load: Load, rows: Rows
) -> None:
    # Another file and another source, then twice in one file: every row is kept.
    load(write("a.csv", "external_id,family_name,VAT\nX1,A,FR1\n"), as_identifier=["VAT"])
    other = load(write("b.csv", "external_id,family_name,VAT\nX2,B,FR1\n"), as_identifier=["VAT"])
    same = load(
        write("c.csv", "external_id,family_name,VAT\nY1,C,FR2\nY2,C,FR2\n"),
        as_identifier=["VAT"],
        source="shop",
    )
    assert other.counts.get("rejected", 0) == same.counts.get("rejected", 0) == 0
    assert rows(
        "SELECT p.external_id, i.value FROM identifiers i JOIN persons p ON p.id = i.person_id "
        "ORDER BY p.external_id"
    ) == [("X1", "FR1"), ("X2", "FR1"), ("Y1", "FR2"), ("Y2", "FR2")]
    # Importing the same file again changes nothing.
    again = load(write("a.csv", "external_id,family_name,VAT\nX1,A,FR1\n"), as_identifier=["VAT"])
    assert again.counts.get("new", 0) == 0
    assert rows("SELECT COUNT(*) FROM identifiers") == [(4,)]


def test_full_names_are_split_and_mapping_profiles_saved(
    write: Write, load: Load, rows: Rows
) -> None:
    content = "Kundennummer;Name;E-Mail;Notizen\n1;DUPONT Jean;j@example.fr;x\n"
    load(write("m.csv", content), mapping_name="crm", ignore=["Notizen"])
    assert rows("SELECT given_name, family_name FROM persons") == [("Jean", "Dupont")]
    assert rows("SELECT name, kind FROM mapping_profiles") == [("crm", "persons")]
    # Reused: the ignored column needs no option any more.
    summary = load(write("m2.csv", content.replace("1;", "2;")), mapping_name="crm")
    assert summary.counts["new"] == 1


def test_rows_without_ids_are_recognised_by_their_content(
    write: Write, load: Load, rows: Rows
) -> None:
    path = write("n.csv", "Prénom,Nom,Courriel\nMarie,Curie,marie@example.fr\n")
    load(path)
    assert load(path).counts["unchanged"] == 1
    assert rows("SELECT COUNT(*) FROM persons") == [(1,)]
