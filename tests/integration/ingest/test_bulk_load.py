"""The fast path of big first imports: new rows handed over as a database image, search
indexes built afterwards (SQLite), and a store that never stays without its indexes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect

from closedloop.ingest.service.runner import Summary
from closedloop.ingest.write import indexes

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]
SEARCH_INDEXES = {
    "ix_persons_family_key_given_key", "ix_persons_given_key", "ix_emails_address_key",
    "ix_phones_e164", "ix_addresses_postal_code",
}  # fmt: skip


def _content(n: int) -> str:
    lines = [
        "external_id,salutation,given_name,family_name,gender,birth_date,email,phone,mobile,"
        "line1,postal_code,locality,country,lifecycle_status"
    ]
    for i in range(n):
        email = f"p{i}@gmial.com" if i % 50 == 7 else f"p{i}@example.org"
        birth = "31/02/1980" if i % 97 == 5 else f"{i % 28 + 1:02d}/0{i % 9 + 1}/19{50 + i % 40}"
        stage = "customer" if i % 3 == 0 else ""
        mobile = f"07 81 23 {i % 100:02d} {i // 100 % 100:02d}" if i % 4 == 0 else ""
        lines.append(
            f"P{i},Mme,jeanne{i % 13},DUPONT-{i % 17},F,{birth},{email},"
            f"06 12 34 {i // 100 % 100:02d} {i % 100:02d},{mobile},{i} rue d'Alésia,"
            f"750{i % 20 + 1:02d},paris,FR,{stage}"
        )
        if i == 149:  # the next chunk: classified while the first waits to be written
            lines.append("P40,M.,Dup,Near,M,,near@example.org,,,,,,FR,")
    lines.append("P6,M.,Dup,Row,M,,dup@example.org,,,,,,FR,")  # a duplicate in a later chunk
    return "\n".join(lines) + "\n"


def _state(rows: Rows, source: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything stored for ``source`` but ids and times."""
    person = "SELECT external_id FROM persons WHERE id = {}.person_id"
    return {
        "persons": rows(
            "SELECT external_id, version, lifecycle_status, salutation, given_name, family_name, "
            "given_key, family_key, gender, birth_date, merged_into_id FROM persons "
            "WHERE source_system = :s ORDER BY external_id",
            s=source,
        ),
        "emails": rows(
            f"SELECT ({person.format('e')}), kind, is_primary, is_valid, address, address_key "
            "FROM emails e WHERE source_system = :s ORDER BY 1, address",
            s=source,
        ),
        "phones": rows(
            f"SELECT ({person.format('p')}), kind, is_primary, is_valid, e164, raw, line_type "
            "FROM phones p WHERE source_system = :s ORDER BY 1, e164",
            s=source,
        ),
        "addresses": rows(
            f"SELECT ({person.format('a')}), kind, is_primary, line1, postal_code, locality, "
            "region, country, latitude, longitude, status, status_detail "
            "FROM addresses a WHERE source_system = :s ORDER BY 1",
            s=source,
        ),
        "sources": rows(
            "SELECT p.external_id, r.row_hash IS NOT NULL, r.line_no FROM source_records r "
            "JOIN persons p ON p.id = r.entity_id AND r.entity = 'person' "
            "WHERE p.source_system = :s ORDER BY 1",
            s=source,
        ),
    }


def _index_names(engine: Engine) -> set[str]:
    found = inspect(engine)
    return {
        str(i["name"])
        for table in ("persons", "emails", "phones", "addresses")
        for i in found.get_indexes(table)
    }


def test_new_rows_from_workers_are_stored_as_the_main_process_stores_them(
    write: Write, load: Load, rows: Rows
) -> None:
    path = write("people.csv", _content(1200))
    alone = load(path, source="one", workers=0, chunk_size=100)
    parallel = load(path, source="two", workers=1, chunk_size=100, bulk_rows=500)
    assert alone.counts == parallel.counts
    assert alone.counts["new"] > 1100 and alone.counts["duplicates"] == 2
    assert [(r["line"], r["field"], r["reason"]) for r in alone.rejects] == [
        (r["line"], r["field"], r["reason"]) for r in parallel.rejects
    ]
    one, two = _state(rows, "one"), _state(rows, "two")
    for table, stored in one.items():
        assert stored == two[table], table
    assert {r[2] for r in two["persons"]} == {"customer", "prospect"}
    assert sum(1 for r in two["phones"] if not r[2]) > 280  # mobiles are second numbers
    again = load(path, source="two", workers=1, chunk_size=100, bulk_rows=500)
    assert again.counts["unchanged"] == alone.counts["new"] and again.counts["new"] == 0


def test_a_big_first_import_builds_the_search_indexes_after_the_rows(
    engine: Engine, write: Write, load: Load, rows: Rows
) -> None:
    seen: list[set[str]] = []

    def progress(_share: float, _counts: dict[str, int]) -> None:
        seen.append(_index_names(engine))

    path = write("people.csv", _content(1200))
    summary = load(path, workers=1, chunk_size=100, commit_rows=100, bulk_rows=500,
                   progress=progress)  # fmt: skip
    assert summary.status == "done"
    sqlite = engine.dialect.name == "sqlite"
    during = set.intersection(*seen[1:-1])
    assert (SEARCH_INDEXES & during == set()) is sqlite  # dropped while the rows went in
    assert "ix_emails_person_id" in during  # indexes on ids stay
    assert _index_names(engine) >= SEARCH_INDEXES  # and all are back at the end
    assert rows("SELECT COUNT(*) FROM persons WHERE given_key = 'jeanne3'")[0][0] > 50
    # a second file, small against the table, keeps every index in place
    seen.clear()
    load(write("more.csv", _content(300).replace("P", "Q")), workers=1, chunk_size=100,
         commit_rows=100, bulk_rows=200, progress=progress)  # fmt: skip
    assert all(names >= SEARCH_INDEXES for names in seen)


def test_an_import_that_stops_halfway_leaves_no_index_missing(
    engine: Engine, write: Write, load: Load
) -> None:
    class Stop(Exception):
        pass

    calls = []

    def progress(_share: float, _counts: dict[str, int]) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise Stop

    path = write("people.csv", _content(1200))
    with pytest.raises(Stop):
        load(path, workers=1, chunk_size=100, commit_rows=100, bulk_rows=500, progress=progress)
    assert _index_names(engine) >= SEARCH_INDEXES
    # A process killed outright cannot build them: the next import (of any file) does first.
    with engine.begin() as conn:
        indexes.drop(conn, indexes.deferrable("persons"))
    assert SEARCH_INDEXES & _index_names(engine) == set()
    other = load(write("other.csv", _content(20).replace("P", "Q")), source="web")
    assert other.status == "done" and other.counts["new"] > 10
    assert _index_names(engine) >= SEARCH_INDEXES
