"""The ``persons_imported`` hook: called once per committed chunk of a persons import, inside
the chunk's transaction, with the ids the chunk created or changed (never the unchanged ones)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.hookspecs import hookimpl, pm
from closedloop.ingest.service.runner import Summary
from closedloop.jobs.models import Job
from closedloop.jobs.service import enqueue

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]


class Listener:
    """A plugin like identity resolution's: one job per call, written in the caller's
    transaction (so it exists exactly when the chunk committed)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], int | None]] = []

    @hookimpl
    def persons_imported(self, session: Session, person_ids: list[int], batch_id: int) -> None:
        self.calls.append((list(person_ids), batch_id))
        enqueue(session, "test.imported", {"ids": list(person_ids), "batch": batch_id})


@pytest.fixture()
def listener() -> Iterator[Listener]:
    plugin = Listener()
    pm.register(plugin)
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


CSV = (
    "external_id,given_name,family_name,email\n"
    "A1,Jean,Dupont,jean@example.com\n"
    "A2,Ana,Pop,ana@example.com\n"
    "A3,Hans,Müller,hans@example.com\n"
)


def _jobs(session: Session) -> list[dict[str, Any]]:
    return [
        dict(j.payload)
        for j in session.scalars(select(Job).where(Job.kind == "test.imported").order_by(Job.id))
    ]


def test_each_chunk_announces_what_it_created_or_changed(
    write: Write, load: Load, rows: Rows, listener: Listener, session: Session
) -> None:
    first = load(write("p.csv", CSV), chunk_size=2)
    ids = dict(rows("SELECT external_id, id FROM persons"))
    assert first.counts["new"] == 3
    assert listener.calls == [
        ([ids["A1"], ids["A2"]], first.batch_id),
        ([ids["A3"]], first.batch_id),
    ]
    # Written in the chunks' transactions: the jobs are there, one per chunk.
    assert _jobs(session) == [
        {"ids": [ids["A1"], ids["A2"]], "batch": first.batch_id},
        {"ids": [ids["A3"]], "batch": first.batch_id},
    ]

    listener.calls.clear()
    again = load(write("p2.csv", CSV), chunk_size=2)
    assert again.counts["unchanged"] == 3
    assert listener.calls == []  # nothing changed: nobody is told

    changed = CSV.replace("ana@example.com", "ana.pop@example.com")
    third = load(write("p3.csv", changed), chunk_size=2)
    assert third.counts["updated"] == 1 and third.counts["unchanged"] == 2
    assert listener.calls == [([ids["A2"]], third.batch_id)]


def test_dry_runs_and_other_kinds_announce_nothing(
    write: Write, load: Load, listener: Listener
) -> None:
    load(write("p.csv", CSV), dry_run=True)
    orgs = "external_id,name\nO1,Acme\n"
    load(write("o.csv", orgs), kind="organisations")
    assert listener.calls == []


def test_a_parallel_import_announces_every_new_person(
    write: Write, load: Load, rows: Rows, listener: Listener
) -> None:
    lines = "".join(f"P{n},Given{n},Family{n},p{n}@example.com\n" for n in range(120))
    load(write("many.csv", "external_id,given_name,family_name,email\n" + lines),
         chunk_size=25, workers=1)  # fmt: skip
    announced = [i for ids, _batch in listener.calls for i in ids]
    assert len(listener.calls) == 5
    assert sorted(announced) == sorted(i for (i,) in rows("SELECT id FROM persons"))
