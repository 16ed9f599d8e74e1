"""Frozen segments: store a list of persons as a snapshot segment.

A snapshot's members are rows of ``segment_members``. Ids given for records that were merged
are stored as their golden record (a merged source is no customer of its own any more), each
person once; ids that name no person are refused, naming them, before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Person
from closedloop.errors import ValidationFailed
from closedloop.scoring.backend import bulk_insert
from closedloop.segments.models import SegmentMember

#: Ids looked up per query when checking a list.
CHUNK = 10_000
#: How many unknown ids an error names.
SHOWN = 10
#: A golden record of a golden record… is followed this far (merges form short chains).
MAX_CHAIN = 32


def golden_ids(
    session: Session, person_ids: Iterable[int], *, field: str = "person_ids"
) -> list[int]:
    """The distinct golden records of ``person_ids`` in first-seen order.

    Raises ValidationFailed naming the ids (and their positions) that are no person.
    """
    given = list(person_ids)
    merged_into: dict[int, int | None] = {}
    wanted = list(dict.fromkeys(given))
    for _ in range(MAX_CHAIN):
        todo = [i for i in wanted if i not in merged_into]
        if not todo:
            break
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            rows = session.execute(
                select(Person.id, Person.merged_into_id).where(Person.id.in_(chunk))
            )
            merged_into.update({int(i): (int(m) if m is not None else None) for i, m in rows})
        unknown = [i for i in todo if i not in merged_into]
        if unknown:
            _refuse_unknown(given, set(unknown), field)
        wanted = [m for m in merged_into.values() if m is not None]
    result: dict[int, None] = {}
    for pid in given:
        current = pid
        for _ in range(MAX_CHAIN):
            nxt = merged_into.get(current)
            if nxt is None:
                break
            current = nxt
        result[current] = None
    return list(result)


def _refuse_unknown(given: list[int], unknown: set[int], field: str) -> None:
    positions = [(n, pid) for n, pid in enumerate(given) if pid in unknown]
    errors: list[dict[str, Any]] = [
        {"field": f"{field}[{n}]", "message": f"there is no person {pid}"}
        for n, pid in positions[:SHOWN]
    ]
    more = len(positions) - SHOWN
    listed = ", ".join(str(pid) for _, pid in positions[:SHOWN])
    raise ValidationFailed(
        f"{len(positions)} of the {len(given)} person ids name no person: {listed}"
        + (f" and {more} more." if more > 0 else "."),
        errors=errors,
    )


def store_members(session: Session, segment_id: int, person_ids: Iterable[int]) -> int:
    """Write ``person_ids`` (distinct, existing) as the members of segment ``segment_id``."""
    session.flush()
    return bulk_insert(
        session, SegmentMember.__tablename__, ("segment_id", "person_id"),
        ((segment_id, pid) for pid in person_ids),
    )  # fmt: skip


def stored_count(session: Session, segment_id: int) -> int:
    """How many members a snapshot has now."""
    stmt = select(func.count()).where(SegmentMember.segment_id == segment_id)
    return int(session.scalar(stmt) or 0)
