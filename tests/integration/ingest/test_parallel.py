"""Validation in worker processes gives exactly what validation in the main process gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from closedloop.ingest.service.runner import Summary

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]


def _content(n: int) -> str:
    lines = ["external_id,given_name,family_name,email,phone,postal_code,country,Hobby"]
    for i in range(n):
        email = f"p{i}@gmial.com" if i % 50 == 7 else f"p{i}@example.org"
        phone = f"06 12 34 {i // 100 % 100:02d} {i % 100:02d}"
        hobby = ["Books", "Ski", "Chess", f"New{i % 7}"][i % 4]
        lines.append(
            f"P{i},GIVEN{i % 13},family{i % 17},{email},{phone},750{i % 20 + 1:02d},FR,{hobby}"
        )
    lines.append("P5,Dup,Row,dup@example.org,,,FR,Books")  # a duplicate in a later chunk
    return "\n".join(lines) + "\n"


def _state(rows: Rows, source: str) -> list[tuple[Any, ...]]:
    return rows(
        "SELECT p.external_id, p.given_name, p.family_name, e.address, ph.e164, a.locality, "
        "a.status, c.code FROM persons p LEFT JOIN emails e ON e.person_id = p.id "
        "LEFT JOIN phones ph ON ph.person_id = p.id LEFT JOIN addresses a ON a.person_id = p.id "
        "LEFT JOIN attribute_values v ON v.person_id = p.id "
        "LEFT JOIN attribute_choices c ON c.id = v.choice_id "
        "WHERE p.source_system = :s ORDER BY p.external_id",
        s=source,
    )


def test_workers_give_the_same_result(write: Write, load: Load, rows: Rows) -> None:
    path = write("people.csv", _content(1200))
    alone = load(path, source="one", workers=0, chunk_size=100, as_attribute=["Hobby:choice"])
    parallel = load(path, source="two", workers=2, chunk_size=100, as_attribute=["Hobby:choice"])
    assert alone.counts == parallel.counts
    assert alone.counts["new"] == 1200 and alone.counts["duplicates"] == 1
    assert alone.counts["kept_with_warnings"] == 24  # kept without their mistyped email
    assert [(r["line"], r["field"], r["reason"]) for r in alone.rejects] == [
        (r["line"], r["field"], r["reason"]) for r in parallel.rejects
    ]
    assert [(r["line"], r["field"], r["reason"]) for r in alone.value_warnings] == [
        (r["line"], r["field"], r["reason"]) for r in parallel.value_warnings
    ]
    assert _state(rows, "one") == _state(rows, "two")
    again = load(path, source="two", workers=2, chunk_size=100, as_attribute=["Hobby:choice"])
    assert again.counts["unchanged"] == 1200 and again.counts["duplicates"] == 1
    changed = write("changed.csv", _content(1200).replace("GIVEN3,", "Changed,"))
    updated = load(changed, source="two", workers=2, chunk_size=100, as_attribute=["Hobby:choice"])
    assert updated.counts["updated"] > 0 and updated.counts["new"] == 0
