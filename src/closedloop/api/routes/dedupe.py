"""Identity resolution over HTTP: the online duplicate check, the review queue, merge and
unmerge (``/api/v1/persons/check-duplicates``, ``/persons/{id}/duplicates``,
``/duplicates``, ``/persons/{id}/merge``, ``/merges/{id}/unmerge``) and the batch run as
a worker job (``/dedupe/runs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from closedloop.api.auth import JOB_QUOTA, PersonsReader, PersonsWriter
from closedloop.api.params import Id, Offset
from closedloop.api.problems import problem_responses
from closedloop.api.schemas import UtcDatetime
from closedloop.contacts import service as contacts
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.types import DbId
from closedloop.dedupe import candidates as queue_service
from closedloop.dedupe import merge as merge_service
from closedloop.dedupe.jobs import enqueue_run
from closedloop.dedupe.online import Candidate, find_candidates
from closedloop.deps import DbSession
from closedloop.users.service import audit

router = APIRouter(tags=["duplicates"])


class Step(BaseModel):
    """One bar of the waterfall: a comparison, the level the pair fell in, and its bits."""

    comparison: str
    level: str
    weight: float


class CandidatePublic(BaseModel):
    """A stored person who may be the same as the one checked."""

    person_id: int
    display_name: str
    match_probability: float = Field(description="0–1, from the trained model.")
    match_weight: float = Field(description="Bits: the prior plus every comparison's weight.")
    likely: bool = Field(description="At or above the automatic-merge threshold.")
    keys: list[str] = Field(description="The blocking keys the two records share.")
    explanation: list[Step]


class CandidatesPublic(BaseModel):
    """Candidate duplicates, most likely first (only those at or above the review threshold)."""

    items: list[CandidatePublic]


class PairPublic(BaseModel):
    """A predicted pair and what became of it."""

    id: int
    person_l_id: int
    person_r_id: int
    match_probability: float
    match_weight: float
    status: str
    origin: str
    note: str | None
    merge_event_id: int | None
    decided_by: str | None
    decided_at: UtcDatetime | None
    explanation: list[Step]


class PairPage(BaseModel):
    items: list[PairPublic]
    total: int
    limit: int
    offset: int


class DecisionCreate(BaseModel):
    """``accept`` merges the pair, ``reject`` leaves it apart this time, ``not_duplicate``
    leaves it apart for good (never proposed again)."""

    decision: Literal["accept", "reject", "not_duplicate"]


class MergeCreate(BaseModel):
    source_id: DbId = Field(description="The person merged into this one.")


class UnmergeCreate(BaseModel):
    force: bool = Field(False, description="Undo even if the golden record changed since.")


class MergePublic(BaseModel):
    """A merge event (without its snapshots)."""

    id: int
    golden_id: int
    source_id: int
    reason: str
    merged_by: str | None
    merged_at: UtcDatetime
    undone_at: UtcDatetime | None
    origins: dict[str, int] = Field(description="Field → the person its value came from.")


def _display(record: dict[str, Any]) -> str:
    parts = [p for p in (record.get("given_name"), record.get("family_name")) if p]
    return " ".join(parts) if parts else f"#{record.get('record_id')}"


def _candidates(found: list[Candidate]) -> CandidatesPublic:
    return CandidatesPublic(
        items=[
            CandidatePublic(
                person_id=c.person_id,
                display_name=_display(c.record),
                match_probability=c.match_probability,
                match_weight=c.match_weight,
                likely=c.likely,
                keys=c.keys,
                explanation=[Step(**s) for s in c.explanation()],
            )
            for c in found
        ]
    )


def _pair(row: Any) -> PairPublic:
    return PairPublic(
        id=row.id,
        person_l_id=row.person_l_id,
        person_r_id=row.person_r_id,
        match_probability=row.match_probability,
        match_weight=row.match_weight,
        status=row.status,
        origin=row.origin,
        note=row.note,
        merge_event_id=row.merge_event_id,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        explanation=[Step(**s) for s in row.explanation or []],
    )


def _merge(event: Any) -> MergePublic:
    merged_at: datetime = event.merged_at
    return MergePublic(
        id=event.id,
        golden_id=event.golden_id,
        source_id=event.source_id,
        reason=event.reason,
        merged_by=event.merged_by,
        merged_at=merged_at,
        undone_at=event.undone_at,
        origins=dict((event.after or {}).get("origins", {})),
    )


@router.post(
    "/persons/check-duplicates",
    response_model=CandidatesPublic,
    responses=problem_responses(401, 403, 422),
)
def check_duplicates(data: PersonCreate, db: DbSession, user: PersonsReader) -> CandidatesPublic:
    """Check a person *before* creating them: the stored persons who may be the same, with
    their scores and the reasons (nothing is stored)."""
    found = find_candidates(db, data)
    audit(db, user, "check_duplicates", "person", channel="api",
          detail={"candidates": [c.person_id for c in found]})  # fmt: skip
    return _candidates(found)


@router.get(
    "/persons/{person_id}/duplicates",
    response_model=CandidatesPublic,
    responses=problem_responses(401, 403, 404, 422),
)
def person_duplicates(person_id: Id, db: DbSession, user: PersonsReader) -> CandidatesPublic:
    """The stored persons who may be duplicates of this one, most likely first."""
    contacts.get_person(db, person_id)
    found = find_candidates(db, person_id)
    audit(db, user, "view_duplicates", "person", person_id, channel="api")
    return _candidates(found)


@router.get("/duplicates", response_model=PairPage, responses=problem_responses(401, 403, 422))
def list_pairs(
    db: DbSession,
    user: PersonsReader,
    status: Annotated[
        str, Query(description="pending, auto_merged, accepted, rejected or not_duplicate")
    ] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> PairPage:
    """The review queue (or the pairs of another status), most likely first."""
    rows, total = queue_service.queue(db, status=status, limit=limit, offset=offset)
    return PairPage(items=[_pair(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get(
    "/duplicates/{pair_id}",
    response_model=PairPublic,
    responses=problem_responses(401, 403, 404, 422),
)
def get_pair(pair_id: Id, db: DbSession, user: PersonsReader) -> PairPublic:
    """One candidate pair (as named by a create or update answer's ``pair_id``)."""
    return _pair(queue_service.get_candidate(db, pair_id))


class RunCreate(BaseModel):
    """Options of a batch deduplication (defaults: ``CLOSEDLOOP_DEDUPE_*``)."""

    threshold: float | None = Field(
        None, gt=0, lt=1, description="Merge pairs at or above this probability (default 0.9)."
    )
    review_threshold: float | None = Field(
        None, gt=0, lt=1, description="Queue pairs from this probability up (default 0.5)."
    )
    merge: bool = Field(True, description="Merge the pairs above the threshold.")
    link_only: bool = Field(
        False,
        description="Link sources, each clean within itself (a person's source_system, the "
        "import's source): only pairs of persons from different sources are proposed, and a "
        "cluster holds at most one person per source.",
    )


class RunQueued(BaseModel):
    """The queued ``dedupe.run`` job: poll ``status_url`` (``/api/v1/jobs/{id}``)."""

    job_id: int
    kind: str
    status: str
    status_url: str


@router.post(
    "/dedupe/runs",
    response_model=RunQueued,
    status_code=202,
    responses=problem_responses(401, 403, 409, 422, 429),
    dependencies=[JOB_QUOTA],
)
def start_run(db: DbSession, user: PersonsWriter, data: RunCreate | None = None) -> RunQueued:
    """Queue a batch deduplication of the whole base (a worker runs it: training, scoring,
    merging, the review queue). The answer names the job to poll for progress and result."""
    options = data or RunCreate()
    job = enqueue_run(
        db,
        threshold=options.threshold,
        review_threshold=options.review_threshold,
        merge=options.merge,
        link_only=options.link_only,
        created_by=user.username,
    )
    audit(db, user, "dedupe_run", "job", job.id, channel="api")
    return RunQueued(
        job_id=job.id, kind=job.kind, status=job.status, status_url=f"/api/v1/jobs/{job.id}"
    )


@router.post(
    "/duplicates/{pair_id}/decision",
    response_model=PairPublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def decide(pair_id: Id, data: DecisionCreate, db: DbSession, user: PersonsWriter) -> PairPublic:
    """Decide a pair: accept (merge it), reject, or not a duplicate (remembered)."""
    row, event = queue_service.decide(db, pair_id, data.decision, decided_by=user.username)
    audit(db, user, f"dedupe_{data.decision}", "duplicate_pair", pair_id, channel="api",
          detail={"merge_event_id": event.id if event else None})  # fmt: skip
    return _pair(row)


@router.post(
    "/persons/{person_id}/merge",
    response_model=MergePublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def merge(person_id: Id, data: MergeCreate, db: DbSession, user: PersonsWriter) -> MergePublic:
    """Merge another person into this one (this one stays, as the golden record)."""
    event = merge_service.merge_persons(
        db, person_id, data.source_id, reason="manual", merged_by=user.username
    )
    audit(db, user, "merge", "person", person_id, channel="api",
          detail={"source_id": data.source_id, "merge_event_id": event.id})  # fmt: skip
    return _merge(event)


@router.post(
    "/merges/{merge_id}/unmerge",
    response_model=MergePublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def unmerge(
    merge_id: Id, db: DbSession, user: PersonsWriter, data: UnmergeCreate | None = None
) -> MergePublic:
    """Undo a merge: both persons and everything that moved return to their state before."""
    event = merge_service.unmerge(
        db, merge_id, undone_by=user.username, force=bool(data and data.force)
    )
    audit(db, user, "unmerge", "person", event.golden_id, channel="api",
          detail={"merge_event_id": merge_id})  # fmt: skip
    return _merge(event)
