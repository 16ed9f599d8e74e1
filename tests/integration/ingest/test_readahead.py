"""A big file is read ahead by a process of its own: the import gives exactly what reading
in the main process gives, bad input included, and a reader that dies stops the import
cleanly (a rerun completes it without duplicates)."""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from closedloop.ingest.service.runner import Summary

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]
READER = "closedloop-import-reader"


def _people(n: int, start: int = 0) -> str:
    return "".join(
        f"R{i},Given{i % 11},Family{i % 17},r{i}@example.org,750{i % 20 + 1:02d},FR\n"
        for i in range(start, start + n)
    )


HEADER = "external_id,given_name,family_name,email,postal_code,country\n"


def _json_broken_late() -> str:
    records = ",\n".join(f'{{"external_id": "J{i}", "family_name": "F{i}"}}' for i in range(3000))
    cut = records.replace('"J2500", "family_name": "F2500"', '"J2500", "family_name"')
    return "[\n" + cut + "\n]"


def _workbook() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.strip().split(","))
    for line in _people(3000).splitlines():
        sheet.append(line.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


CASES: dict[str, tuple[str, str | bytes]] = {
    "an Excel workbook": ("people.xlsx", _workbook()),
    "mixed encodings": (
        "mixed.csv",
        (HEADER + _people(1500)).encode()
        + "M1,Jérôme,Lefèvre,,45000,FR\n".encode("cp1252")
        + _people(1500, 1500).encode(),
    ),
    # a unit or record separator inside a cell: the chunk's values cannot travel joined
    "control characters": (
        "control.csv",
        HEADER
        + _people(1200)
        + "C1,Ann\x1fMarie,Unit,,,FR\nC2,Bob,Rec\x1eord,,,FR\n"
        + _people(1800, 1200),
    ),
    "a 10 MB field": (
        "huge.csv",
        HEADER + _people(100) + f'B2,"{"x" * (10 << 20)}",Big,,,FR\n' + _people(3000, 100),
    ),
    "duplicates across chunks": ("dups.csv", HEADER + _people(3000) + "R3,Other,Row,,,FR\n"),
    "JSON broken further on": ("late.json", _json_broken_late()),
    "empty and whole-row rejects": (
        "rows.csv",
        HEADER + _people(1500) + ",,,,,\nX1,a,b,c,d,e,f,g\n" + _people(1500, 1500),
    ),
}


def _stored(rows: Rows, source: str) -> list[tuple[Any, ...]]:
    return rows(
        "SELECT p.external_id, p.given_name, p.family_name, e.address, a.locality "
        "FROM persons p LEFT JOIN emails e ON e.person_id = p.id "
        "LEFT JOIN addresses a ON a.person_id = p.id "
        "WHERE p.source_system = :s ORDER BY p.external_id",
        s=source,
    )


def _readers() -> list[str]:
    return [p.name for p in multiprocessing.active_children() if p.name == READER]


@pytest.mark.parametrize("case", list(CASES))
def test_the_read_ahead_gives_what_the_main_process_gives(
    write: Write, load: Load, rows: Rows, case: str
) -> None:
    name, content = CASES[case]
    path = write(name, content)
    seen: list[str] = []
    alone = load(path, source="one", workers=0, chunk_size=100)
    ahead = load(path, source="two", workers=1, chunk_size=100, commit_rows=100,
                 progress=lambda *_: seen.extend(_readers()))  # fmt: skip
    assert seen, "the file was not read by a read-ahead process"
    assert (ahead.status, ahead.error, ahead.counts) == (alone.status, alone.error, alone.counts)
    assert ahead.warnings == alone.warnings
    assert [(r["line"], r["field"], r["value"], r["reason"]) for r in ahead.rejects] == [
        (r["line"], r["field"], r["value"], r["reason"]) for r in alone.rejects
    ]
    assert _stored(rows, "two") == _stored(rows, "one")
    assert alone.counts["new"] > 100


def test_a_dry_run_read_ahead_counts_what_the_main_process_counts(
    write: Write, load: Load, rows: Rows
) -> None:
    path = write("dups.csv", HEADER + _people(3000) + "R3,Other,Row,,,FR\nR4,,,bad-email,,FR\n")
    alone = load(path, source="one", workers=0, chunk_size=100, dry_run=True)
    ahead = load(path, source="two", workers=1, chunk_size=100, dry_run=True)
    assert ahead.counts == alone.counts
    assert alone.counts["new"] == 3000 and alone.counts["duplicates"] == 2
    assert rows("SELECT COUNT(*) FROM persons") == [(0,)]


def test_the_broken_json_keeps_the_chunks_before_the_break(write: Write, load: Load) -> None:
    summary = load(write("late.json", _json_broken_late()), workers=1, chunk_size=100)
    assert summary.status == "failed" and summary.error is not None
    assert "line 2502" in summary.error
    assert summary.counts["new"] == 2500


def test_a_reader_that_dies_stops_the_import_and_a_rerun_completes_it(
    write: Write, load: Load, rows: Rows
) -> None:
    path = write("many.csv", HEADER + _people(6000))

    def kill_reader(_share: float, _counts: dict[str, int]) -> None:
        for child in multiprocessing.active_children():
            if child.name == READER and child.pid is not None:
                os.kill(child.pid, signal.SIGKILL)

    with pytest.raises(RuntimeError, match="process reading the file stopped"):
        load(path, workers=1, chunk_size=100, commit_rows=100, progress=kill_reader)
    done = rows("SELECT COUNT(*) FROM persons")[0][0]
    assert 0 < done < 6000
    again = load(path, workers=1, chunk_size=100)
    assert again.status == "done" and again.resumed_at_row == done
    assert rows("SELECT COUNT(*), COUNT(DISTINCT external_id) FROM persons") == [(6000, 6000)]
    assert _readers() == []  # no reader left behind
