"""``/api/v1/segments``: segment rules (count, JSON Schema), saved segments (CRUD), their
members (paged) and snapshots.

A rule is the JSON document described by ``GET /api/v1/segments/schema`` (see
docs/concepts/segments.md); a mistake is a 422 whose ``errors`` name the rule path
(``all[2].orders.days``) and the reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, status
from pydantic import BaseModel, Field

from closedloop import segments as service
from closedloop.api.auth import requires
from closedloop.api.params import Id, Offset
from closedloop.api.problems import problem_responses
from closedloop.db.types import UtcDatetime
from closedloop.deps import DbSession
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.users.service import audit

router = APIRouter(prefix="/segments", tags=["segments"])
Manager = Annotated[User, Depends(requires(Permission.CAMPAIGNS_MANAGE))]
Reader = Annotated[User, Depends(requires(Permission.PERSONS_READ))]
RuleDoc = Annotated[
    dict[str, Any],
    Body(
        description="A segment rule (see GET /api/v1/segments/schema).",
        examples=[{"all": [{"field": "tier", "op": "eq", "value": "A"},
                           {"consent": {"channel": "email", "purpose": "marketing"}}]}],
    ),
]  # fmt: skip


class CountPublic(BaseModel):
    """How many persons a rule selects now."""

    count: int


class SegmentCreate(BaseModel):
    """A dynamic segment to save."""

    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    rules: dict[str, Any] = Field(description="A segment rule (see the schema).")


class SegmentPatch(BaseModel):
    """Changes to a segment (rules: dynamic segments only)."""

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    rules: dict[str, Any] | None = None


class SnapshotCreate(BaseModel):
    """The name of a new snapshot (default: the segment's name and the time)."""

    name: str | None = Field(default=None, max_length=200)


class SegmentPublic(BaseModel):
    """A segment: a saved rule (dynamic) or a frozen list of persons (snapshot)."""

    id: int
    name: str
    description: str | None
    kind: str
    rules: dict[str, Any] | None
    origin: dict[str, Any] | None
    source_segment_id: int | None
    frozen_at: UtcDatetime | None
    frozen_count: int | None
    created_by: str | None
    created_at: UtcDatetime
    count: int | None = Field(default=None, description="Its members now (on reading one).")


class SegmentPage(BaseModel):
    items: list[SegmentPublic]
    total: int
    limit: int
    offset: int


class MemberPage(BaseModel):
    """A page of a segment's members now, by increasing person id."""

    segment_id: int
    items: list[int]
    total: int
    limit: int
    offset: int


_RW = problem_responses(401, 403, 404, 409, 422)


@router.get("/schema", response_model=dict[str, Any], responses=problem_responses(401, 403))
def segment_rule_schema(user: Manager) -> dict[str, Any]:
    """The JSON Schema of a segment rule (the builder and the CLI use the same)."""
    return service.rule_schema()


@router.post("/count", response_model=CountPublic, responses=problem_responses(401, 403, 422))
def count_rule(db: DbSession, user: Manager, rules: RuleDoc) -> CountPublic:
    """How many persons the rule in the body selects now (nothing is saved)."""
    return CountPublic(count=service.count(db, rules))


@router.get("", response_model=SegmentPage, responses=problem_responses(401, 403, 422))
def list_segments(
    db: DbSession,
    user: Manager,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> SegmentPage:
    """The segments by name."""
    items, total = service.list_segments(db, limit=limit, offset=offset)
    out = [SegmentPublic(**service.segment_dict(s)) for s in items]
    return SegmentPage(items=out, total=total, limit=limit, offset=offset)


@router.post("", response_model=SegmentPublic, status_code=status.HTTP_201_CREATED, responses=_RW)
def create_segment(db: DbSession, user: Manager, data: SegmentCreate) -> SegmentPublic:
    """Save a dynamic segment; its rule is checked (and its names looked up) first."""
    seg = service.create_segment(
        db, data.name, data.rules, description=data.description, created_by=user.username
    )
    audit(db, user, "create", "segment", seg.id, channel="api")
    return SegmentPublic(**service.segment_dict(seg))


@router.get("/{segment_id}", response_model=SegmentPublic, responses=_RW)
def get_segment(db: DbSession, user: Manager, segment_id: Id) -> SegmentPublic:
    """One segment and how many members it has now."""
    seg = service.get_segment(db, segment_id)
    size = service.member_page(db, seg.id, limit=1)[1]
    return SegmentPublic(**service.segment_dict(seg), count=size)


@router.patch("/{segment_id}", response_model=SegmentPublic, responses=_RW)
def update_segment(
    db: DbSession, user: Manager, segment_id: Id, data: SegmentPatch
) -> SegmentPublic:
    """Rename a segment, change its description or (dynamic ones) its rule."""
    seg = service.update_segment(
        db, segment_id, name=data.name, rules=data.rules, description=data.description
    )
    audit(db, user, "update", "segment", seg.id, channel="api")
    return SegmentPublic(**service.segment_dict(seg))


@router.delete("/{segment_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_RW)
def delete_segment(db: DbSession, user: Manager, segment_id: Id) -> None:
    """Delete a segment (its frozen members with it; snapshots taken from it stay)."""
    service.delete_segment(db, segment_id)
    audit(db, user, "delete", "segment", segment_id, channel="api")


@router.get("/{segment_id}/members", response_model=MemberPage, responses=_RW)
def segment_members(
    db: DbSession,
    user: Reader,
    segment_id: Id,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Offset = 0,
) -> MemberPage:
    """The ids of the segment's members now (a dynamic rule evaluated, a snapshot's frozen
    list), by increasing id."""
    page, total = service.member_page(db, segment_id, limit=limit, offset=offset)
    return MemberPage(segment_id=segment_id, items=page, total=total, limit=limit, offset=offset)


@router.post(
    "/{segment_id}/snapshot",
    response_model=SegmentPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_RW,
)
def snapshot_segment(
    db: DbSession, user: Manager, segment_id: Id, data: SnapshotCreate | None = None
) -> SegmentPublic:
    """Freeze the dynamic segment's members now into a new snapshot segment."""
    seg = service.snapshot_segment(
        db, segment_id, name=data.name if data else None, created_by=user.username
    )
    audit(db, user, "create", "segment", seg.id, channel="api", detail={"from": segment_id})
    return SegmentPublic(**service.segment_dict(seg))
