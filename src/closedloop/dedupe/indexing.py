"""The online index in bulk: persons written by bulk writers, persons not indexed yet, the
whole base.

``person_saved`` keeps one person's keys current; bulk writers (imports, sync, the demo seed)
skip it and announce their persons with ``persons_imported`` instead, which queues one
``dedupe.index`` job (see :mod:`.jobs`). That job computes the keys of those persons in chunks
(one short transaction each, so a long import never holds the store's write lock), then runs
the online check for each and puts the candidates in the review queue, as ``person_saved``
would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.candidates import record_online
from closedloop.dedupe.keys import delete_keys, prepare_chunk, rebuild_all, write_keys
from closedloop.dedupe.models import PersonMatchRecord
from closedloop.dedupe.online import find_candidates
from closedloop.dedupe.store import count_golden, iter_record_chunks, records_where

#: Persons whose keys are computed in one statement set (and one transaction in a job).
KEY_CHUNK = 2_000
#: Persons checked per transaction by the ``dedupe.index`` job.
CHECK_CHUNK = 200

#: ``progress(done, total)``
Progress = Callable[[int, int], None]


def _chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _owned_by(ids: list[int]) -> Callable[[Any], Any]:
    return lambda model: model.person_id.in_(ids)


def index_persons(session: Session, person_ids: Sequence[int]) -> int:
    """Recompute the keys and prepared records of these persons (merged-away or deleted ones
    lose theirs); returns the number of key rows written."""
    total = 0
    for part in _chunks(sorted(set(person_ids)), KEY_CHUNK):
        delete_keys(session, part)
        records = records_where(session, Person.id.in_(part), _owned_by(part))
        total += write_keys(session, prepare_chunk(records))
    return total


def check_persons(session: Session, person_ids: Sequence[int]) -> int:
    """Run the online check for each person and queue its candidates (decided pairs are left
    as they are); returns the number of candidate pairs found."""
    found = 0
    for pid in person_ids:
        candidates = find_candidates(session, int(pid))
        record_online(session, int(pid), candidates)
        found += len(candidates)
    return found


def index_imported(
    factory: sessionmaker[Session],
    person_ids: Sequence[int],
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Index then check persons written in bulk, committing chunk by chunk (the work is
    idempotent, so a retried job simply does it again). Returns a summary."""
    ids = sorted({int(i) for i in person_ids})
    report = progress or (lambda done, total: None)
    total = 2 * len(ids)
    keys = done = 0
    for part in _chunks(ids, KEY_CHUNK):
        with unit_of_work(factory) as session:
            keys += index_persons(session, part)
        done += len(part)
        report(done, total)
    pairs = 0
    for part in _chunks(ids, CHECK_CHUNK):
        with unit_of_work(factory) as session:
            pairs += check_persons(session, part)
        done += len(part)
        report(done, total)
    return {"persons": len(ids), "match_keys": keys, "candidate_pairs": pairs}


def unindexed_ids(session: Session, limit: int | None = None) -> list[int]:
    """Golden persons without a prepared record in the index, in id order."""
    stmt = (
        select(Person.id)
        .where(
            Person.merged_into_id.is_(None),
            ~exists().where(PersonMatchRecord.person_id == Person.id),
        )
        .order_by(Person.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [int(i) for i in session.scalars(stmt)]


def count_indexed(session: Session) -> int:
    """How many persons the online index holds."""
    return int(session.scalar(select(func.count()).select_from(PersonMatchRecord)) or 0)


def index_missing(session: Session, progress: Progress | None = None) -> tuple[int, int]:
    """Index the golden persons the index does not hold yet; returns (persons, key rows)."""
    ids = unindexed_ids(session)
    keys = done = 0
    for part in _chunks(ids, KEY_CHUNK):
        keys += index_persons(session, part)
        done += len(part)
        if progress is not None:
            progress(done, len(ids))
    return len(ids), keys


def rebuild_index(session: Session, progress: Progress | None = None) -> tuple[int, int]:
    """Rebuild the whole index from the store; returns (persons, key rows)."""
    total = count_golden(session)
    keys = rebuild_all(
        session,
        iter_record_chunks(session),
        progress=None if progress is None else (lambda done: progress(done, total)),
    )
    return total, keys


__all__ = [
    "check_persons",
    "count_indexed",
    "index_imported",
    "index_missing",
    "index_persons",
    "rebuild_index",
    "unindexed_ids",
]
