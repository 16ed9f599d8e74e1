"""Candidate pairs: storing them, the review queue and reviewers' decisions.

Statuses: ``pending`` (in the queue), ``auto_merged``, ``accepted`` (merged by a reviewer),
``rejected`` (left apart; proposed again only when a later run scores the pair clearly
higher), ``not_duplicate`` (remembered for good: never proposed, never merged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Person
from closedloop.contacts.service import golden_record
from closedloop.db.base import utcnow
from closedloop.dedupe.merge import merge_persons, pair_key
from closedloop.dedupe.models import DuplicateCandidate, MergeEvent
from closedloop.dedupe.survivorship import Policy, choose_golden
from closedloop.errors import Conflict, NotFound, ValidationFailed

if TYPE_CHECKING:
    from closedloop.dedupe.online import Candidate

STATUSES = ("pending", "auto_merged", "accepted", "rejected", "not_duplicate")
DECISIONS = ("accept", "reject", "not_duplicate")
DECIDED = frozenset({"auto_merged", "accepted", "not_duplicate"})
#: A rejected pair comes back to the queue when a run scores it this much higher.
REPROPOSE_MARGIN = 0.05


def upsert(
    session: Session,
    left: int,
    right: int,
    *,
    weight: float,
    probability: float,
    explanation: list[dict[str, Any]],
    origin: str,
    model_id: int | None,
) -> DuplicateCandidate | None:
    """Store or refresh a predicted pair; decided pairs keep their decision (a rejected one
    goes back to pending when scored clearly higher). Returns the row."""
    l_id, r_id = pair_key(left, right)
    row = session.scalar(
        select(DuplicateCandidate).where(
            DuplicateCandidate.person_l_id == l_id, DuplicateCandidate.person_r_id == r_id
        )
    )
    if row is None:
        row = DuplicateCandidate(person_l_id=l_id, person_r_id=r_id, status="pending")
        session.add(row)
    elif row.status in DECIDED:
        return row
    elif row.status == "rejected":
        if probability < row.match_probability + REPROPOSE_MARGIN:
            return row
        row.status, row.note = "pending", "scored higher than when it was rejected"
    row.match_weight = weight
    row.match_probability = probability
    row.explanation = explanation
    row.origin = origin
    row.model_id = model_id
    return row


def record_online(session: Session, person_id: int, candidates: Sequence[Candidate]) -> None:
    """Put the online check's candidates in the review queue (decided pairs untouched); each
    candidate's ``pair_id`` and ``pair_status`` then name its stored pair."""
    rows = []
    for c in candidates:
        row = upsert(
            session,
            person_id,
            c.person_id,
            weight=c.match_weight,
            probability=c.match_probability,
            explanation=c.explanation(),
            origin="online",
            model_id=None,
        )
        rows.append((c, row))
    session.flush()
    for c, row in rows:
        if row is not None:
            c.pair_id, c.pair_status = row.id, row.status


def get_candidate(session: Session, candidate_id: int) -> DuplicateCandidate:
    """One candidate pair; NotFound otherwise."""
    row = session.get(DuplicateCandidate, candidate_id)
    if row is None:
        raise NotFound(f"Candidate pair {candidate_id} does not exist.")
    return row


def queue(
    session: Session, *, status: str = "pending", limit: int = 50, offset: int = 0
) -> tuple[list[DuplicateCandidate], int]:
    """One page of candidate pairs in ``status``, most likely first, and how many there are."""
    if status not in STATUSES:
        raise ValidationFailed(
            f"Unknown status {status!r}.",
            errors=[{"field": "status", "message": f"use one of {', '.join(STATUSES)}"}],
        )
    base = select(DuplicateCandidate).where(DuplicateCandidate.status == status)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    rows = session.scalars(
        base.order_by(DuplicateCandidate.match_probability.desc(), DuplicateCandidate.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def next_pending(session: Session, after: DuplicateCandidate | None = None) -> int | None:
    """The id of the next pair to review (the most likely pending one)."""
    rows, _ = queue(session, limit=2)
    for row in rows:
        if after is None or row.id != after.id:
            return row.id
    return None


def decide(
    session: Session, candidate_id: int, decision: str, *, decided_by: str | None = None
) -> tuple[DuplicateCandidate, MergeEvent | None]:
    """Apply a reviewer's decision: ``accept`` merges the pair (into the most trusted record),
    ``reject`` leaves it apart this time, ``not_duplicate`` leaves it apart for good."""
    if decision not in DECISIONS:
        raise ValidationFailed(
            f"Unknown decision {decision!r}.",
            errors=[{"field": "decision", "message": f"use one of {', '.join(DECISIONS)}"}],
        )
    row = get_candidate(session, candidate_id)
    if row.status in ("auto_merged", "accepted") and decision != "accept":
        raise Conflict(
            f"Pair {candidate_id} was already merged (merge {row.merge_event_id}); "
            "undo that merge to separate the two persons."
        )
    event: MergeEvent | None = None
    if decision == "accept" and row.status not in ("auto_merged", "accepted"):
        a = golden_record(session, row.person_l_id)
        b = golden_record(session, row.person_r_id)
        if a.id != b.id:
            golden, source = choose_golden(Policy.from_settings(), a, b)
            event = merge_persons(
                session,
                golden.id,
                source.id,
                reason="review",
                merged_by=decided_by,
                candidate_id=row.id,
            )
            row.merge_event_id = event.id
        row.status = "accepted"
    elif decision == "reject":
        row.status = "rejected"
    elif decision == "not_duplicate":
        row.status = "not_duplicate"
    row.decided_by = decided_by
    row.decided_at = utcnow()
    session.flush()
    return row, event


@dataclass
class PendingDuplicate:
    """A pending pair seen from one of its persons: the other person and the pair."""

    pair_id: int
    person_id: int
    display_name: str
    match_probability: float


def pending_for(session: Session, person_id: int, limit: int = 10) -> list[PendingDuplicate]:
    """The pending pairs of one person (most likely first), with the other person's name:
    what the person's card shows as a duplicate warning."""
    rows = session.scalars(
        select(DuplicateCandidate)
        .where(
            DuplicateCandidate.status == "pending",
            (DuplicateCandidate.person_l_id == person_id)
            | (DuplicateCandidate.person_r_id == person_id),
        )
        .order_by(DuplicateCandidate.match_probability.desc(), DuplicateCandidate.id)
        .limit(limit)
    ).all()
    out: list[PendingDuplicate] = []
    for row in rows:
        other_id = row.person_r_id if row.person_l_id == person_id else row.person_l_id
        other = session.get(Person, other_id)
        if other is None or other.merged_into_id is not None:
            continue
        out.append(PendingDuplicate(row.id, other_id, other.display_name, row.match_probability))
    return out
