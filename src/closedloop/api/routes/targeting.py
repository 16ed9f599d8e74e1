"""``/api/v1/targeting``: propensity, clusters and the recommendations' evaluation (queued as
jobs: 202 with the job, then ``GET /api/v1/targeting/results/{id}``), a person's next best
products, target markets and the comparison of two segments (answered at once).

A cluster becomes a snapshot segment with ``POST /api/v1/targeting/clusters/{id}/segments``,
the best share of an uplift analysis's members with ``POST /api/v1/targeting/uplift/{id}/segments``;
a propensity job freezes its top N (or a threshold) as a segment when one is named.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from closedloop.api.auth import JOB_QUOTA, requires
from closedloop.api.params import Id
from closedloop.api.problems import problem_responses
from closedloop.contacts import service as contacts
from closedloop.db.types import DbCount, DbId, UtcDatetime
from closedloop.deps import DbSession
from closedloop.errors import PermissionDenied
from closedloop.jobs.models import Job
from closedloop.targeting import jobs
from closedloop.targeting.market import compare, markets
from closedloop.targeting.recommend import recommend
from closedloop.users.models import User
from closedloop.users.permissions import Permission, allowed
from closedloop.users.service import audit

router = APIRouter(prefix="/targeting", tags=["targeting"])
Analyst = Annotated[User, Depends(requires(Permission.ANALYTICS_RUN))]
Manager = Annotated[User, Depends(requires(Permission.CAMPAIGNS_MANAGE))]
Reader = Annotated[User, Depends(requires(Permission.PERSONS_READ))]
#: A category code or segment reference in a query: printable text only.
Code = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
Ref = Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
_JOB = problem_responses(401, 403, 404, 409, 422, 429)


class PropensityCreate(BaseModel):
    """A propensity model to train; name a segment to freeze its best persons."""

    category: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Category code (its subcategories included).",
    )
    horizon_days: int = Field(default=180, ge=7, le=730, description="Days of the buying window.")
    top: DbId | None = Field(default=None, description="Freeze the N best-ranked persons.")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="Or those scoring ≥.")
    segment: str | None = Field(default=None, max_length=200, description="The segment's name.")


class ClustersCreate(BaseModel):
    """A clustering of the buyers."""

    k: int | None = Field(
        default=None, ge=2, le=12, description="Clusters; default: best silhouette."
    )


class EvaluationCreate(BaseModel):
    """An offline evaluation of the recommendations."""

    k: int = Field(default=5, ge=1, le=100, description="Recommendations judged per person.")
    max_persons: DbId | None = Field(default=None, description="At most this many persons.")


class UpliftCreate(BaseModel):
    """An uplift model of a past campaign with a control group."""

    campaign: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$",
                          description="The campaign's code.")  # fmt: skip
    days: int | None = Field(default=None, ge=1, le=730, description="Response window (days).")


class ClusterSegmentCreate(BaseModel):
    """Which cluster of a clustering becomes a snapshot segment, under which name."""

    cluster: int = Field(ge=1, le=12)
    name: str = Field(min_length=1, max_length=200)


class UpliftSegmentCreate(BaseModel):
    """Which share of an uplift analysis's members, best predicted uplift first, becomes a
    snapshot segment, under which name."""

    share: float = Field(gt=0.0, le=1.0, description="Share of the members, e.g. 0.3 for 30 %.")
    name: str = Field(min_length=1, max_length=200)


class AnalysisPublic(BaseModel):
    """A targeting analysis (a job): its state, progress and, once done, its result."""

    id: int
    kind: str
    status: str
    progress: float
    message: str | None
    error: str | None
    created_at: UtcDatetime
    finished_at: UtcDatetime | None
    parameters: dict[str, Any]
    result: dict[str, Any] | None


class SegmentMade(BaseModel):
    """The snapshot segment made."""

    id: int
    name: str
    members: DbCount


def _public(job: Job) -> AnalysisPublic:
    params = {k: v for k, v in (job.payload or {}).items() if k != "created_by"}
    return AnalysisPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=job.progress,
        message=job.message,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
        parameters=params,
        # An uplift's full ranking stays in the store (it feeds its segments); "top" shows it.
        result={k: v for k, v in job.result.items() if k != "ranking"} if job.result else None,
    )


@router.post(
    "/propensity",
    response_model=AnalysisPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_JOB,
    dependencies=[JOB_QUOTA],
)
def start_propensity(db: DbSession, user: Analyst, data: PropensityCreate) -> AnalysisPublic:
    """Queue a propensity model for a category (trained on a past window, evaluated out of
    time: AUC, lift by decile, calibration); with ``segment``, its ``top`` N or those
    scoring at least ``threshold`` become that snapshot segment (needs campaigns:manage)."""
    if data.segment is not None and not allowed(user.role, Permission.CAMPAIGNS_MANAGE):
        raise PermissionDenied(f"Your role ({user.role}) does not allow campaigns:manage.")
    job = jobs.queue_propensity(
        db,
        data.category,
        horizon_days=data.horizon_days,
        top=data.top,
        threshold=data.threshold,
        segment=data.segment,
        created_by=user.username,
    )
    audit(db, user, "started", "job", job.id, channel="api", detail={"kind": job.kind})
    return _public(job)


@router.post(
    "/clusters",
    response_model=AnalysisPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_JOB,
    dependencies=[JOB_QUOTA],
)
def start_clusters(
    db: DbSession, user: Analyst, data: ClustersCreate | None = None
) -> AnalysisPublic:
    """Queue a clustering of the buyers on behaviour (k-means, k by silhouette), each cluster
    named from its profile."""
    job = jobs.queue_clusters(db, data.k if data else None, created_by=user.username)
    audit(db, user, "started", "job", job.id, channel="api", detail={"kind": job.kind})
    return _public(job)


@router.post(
    "/clusters/{job_id}/segments",
    response_model=SegmentMade,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def cluster_to_segment(
    db: DbSession, user: Manager, job_id: Id, data: ClusterSegmentCreate
) -> SegmentMade:
    """Freeze one cluster of a finished clustering as a snapshot segment."""
    made = jobs.cluster_segment_from_job(
        db, job_id, data.cluster, data.name, created_by=user.username
    )
    audit(db, user, "create", "segment", made["id"], channel="api", detail={"clustering": job_id})
    return SegmentMade(**made)


@router.post(
    "/evaluation",
    response_model=AnalysisPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_JOB,
    dependencies=[JOB_QUOTA],
)
def start_evaluation(
    db: DbSession, user: Analyst, data: EvaluationCreate | None = None
) -> AnalysisPublic:
    """Queue the offline evaluation of the recommendations: each person's last purchase is
    hidden; hit-rate@k and MRR of the model against the most popular products."""
    data = data or EvaluationCreate()
    job = jobs.queue_evaluation(db, data.k, max_persons=data.max_persons, created_by=user.username)
    audit(db, user, "started", "job", job.id, channel="api", detail={"kind": job.kind})
    return _public(job)


@router.post(
    "/uplift",
    response_model=AnalysisPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_JOB,
    dependencies=[JOB_QUOTA],
)
def start_uplift(db: DbSession, user: Analyst, data: UpliftCreate) -> AnalysisPublic:
    """Queue an uplift model of a past campaign with a control group: two models (targeted,
    control) give each member's incremental buy probability; judged on held-out members by
    the Qini curve and coefficient (0 = random targeting)."""
    job = jobs.queue_uplift(db, data.campaign, days=data.days, created_by=user.username)
    audit(db, user, "started", "job", job.id, channel="api", detail={"kind": job.kind})
    return _public(job)


@router.post(
    "/uplift/{job_id}/segments",
    response_model=SegmentMade,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def uplift_to_segment(
    db: DbSession, user: Manager, job_id: Id, data: UpliftSegmentCreate
) -> SegmentMade:
    """Freeze the top ``share`` of the members of a finished uplift analysis, by predicted
    uplift (e.g. 0.3: the best 30 %), as a snapshot segment."""
    made = jobs.uplift_segment_from_job(db, job_id, data.share, data.name, created_by=user.username)
    audit(db, user, "create", "segment", made["id"], channel="api", detail={"uplift": job_id})
    return SegmentMade(**made)


@router.get(
    "/results/{job_id}",
    response_model=AnalysisPublic,
    responses=problem_responses(401, 403, 404, 422),
)
def get_result(db: DbSession, user: Analyst, job_id: Id) -> AnalysisPublic:
    """A targeting analysis: its state and progress, and its result once done."""
    return _public(jobs.get(db, job_id))


@router.get(
    "/recommendations/{person_id}",
    response_model=list[dict[str, Any]],
    responses=problem_responses(401, 403, 404, 422),
)
def person_recommendations(
    db: DbSession,
    user: Reader,
    person_id: Id,
    n: Annotated[int, Query(ge=1, le=100, description="How many products.")] = 5,
) -> list[dict[str, Any]]:
    """A person's next best products (co-purchase and category affinity; never one already
    bought or inactive): product id, sku, name, category, price."""
    contacts.get_person(db, person_id)  # 404 for an unknown person
    return recommend(db, person_id, n)


@router.get(
    "/markets", response_model=list[dict[str, Any]], responses=problem_responses(401, 403, 404, 422)
)
def target_markets(
    db: DbSession,
    user: Analyst,
    category: Code,
    horizon_days: Annotated[int, Query(ge=7, le=3650)] = 365,
    channel: Annotated[str, Query(pattern=r"^(email|sms|phone|letter)$")] = "email",
) -> list[dict[str, Any]]:
    """Countries ranked by size × expected value × reachability for a category (reachable:
    may be contacted on ``channel`` for marketing under the consent policy)."""
    return markets(db, category, horizon_days=horizon_days, channel=channel)


@router.get(
    "/compare", response_model=dict[str, Any], responses=problem_responses(401, 403, 404, 422)
)
def compare_segments(db: DbSession, user: Analyst, first: Ref, second: Ref) -> dict[str, Any]:
    """Two segments (name or id) side by side: mean recency, orders, spend, tenure and
    breadth in each, with Cohen's d and its size."""
    return compare(db, first, second)
