"""Targeting analyses as jobs: propensity, clustering and the recommendations' offline
evaluation run in the worker (they read every order), with progress; the API and the pages
queue them here and read their results back from the job.

Each kind runs one at a time. The inputs are checked when the job is queued (an unknown
category or a bad horizon is refused at once, naming the field), not minutes later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.jobs.guards import one_at_a_time
from closedloop.jobs.models import Job
from closedloop.jobs.service import JobContext, enqueue
from closedloop.segments.models import Segment
from closedloop.targeting import said
from closedloop.targeting.features import category_ids

PROPENSITY_KIND = one_at_a_time("targeting.propensity")
CLUSTERS_KIND = one_at_a_time("targeting.clusters")
EVALUATION_KIND = one_at_a_time("targeting.evaluation")
UPLIFT_KIND = one_at_a_time("targeting.uplift")
KINDS = (PROPENSITY_KIND, CLUSTERS_KIND, EVALUATION_KIND, UPLIFT_KIND)


def _refuse(field: str, message: str, detail: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=[{"field": field, "message": message}])


def _free_name(session: Session, name: str) -> str:
    clean = " ".join(name.split())
    if not clean or len(clean) > 200:
        raise _refuse(
            "segment", "1 to 200 characters", "A segment needs a name (1-200 characters)."
        )
    taken = session.scalar(select(Segment.id).where(Segment.name == clean))
    if taken is not None:
        raise Conflict(f"A segment called {clean!r} exists already (segment {taken}).")
    return clean


def queue_propensity(
    session: Session,
    category: str,
    *,
    horizon_days: int = 180,
    top: int | None = None,
    threshold: float | None = None,
    segment: str | None = None,
    created_by: str | None = None,
) -> Job:
    """Queue a propensity model for ``category``; with ``segment``, its ``top`` N (or those
    scoring at least ``threshold``) are frozen as that snapshot segment when it is done."""
    if not 7 <= horizon_days <= 730:
        raise _refuse("horizon_days", "between 7 and 730", "The horizon must be 7 to 730 days.")
    category_ids(session, category)  # an unknown category is refused now
    if segment is None and (top is not None or threshold is not None):
        raise _refuse(
            "segment", "missing", "Top and threshold choose a segment's members: name it."
        )
    if segment is not None:
        if (top is None) == (threshold is None):
            raise _refuse(
                "top", "top or threshold, one of them", "Give the segment's size or a threshold."
            )
        if top is not None and top < 1:
            raise _refuse("top", "at least 1", "The segment needs at least one person.")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise _refuse("threshold", "between 0 and 1", "A threshold is a probability, 0 to 1.")
        segment = _free_name(session, segment)
    payload = {"category": category, "horizon_days": horizon_days, "top": top,
               "threshold": threshold, "segment": segment, "created_by": created_by}  # fmt: skip
    return enqueue(session, PROPENSITY_KIND, payload, created_by=created_by, max_attempts=1)


def queue_clusters(session: Session, k: int | None = None, *, created_by: str | None = None) -> Job:
    """Queue a clustering of the buyers (``k`` 2-12, or None to choose it by silhouette)."""
    if k is not None and not 2 <= k <= 12:
        raise _refuse("k", "between 2 and 12", f"The number of clusters must be 2 to 12, not {k}.")
    return enqueue(session, CLUSTERS_KIND, {"k": k}, created_by=created_by, max_attempts=1)


def queue_evaluation(
    session: Session, k: int = 5, *, max_persons: int | None = None, created_by: str | None = None
) -> Job:
    """Queue the offline evaluation of the recommendations (hit-rate@k and MRR)."""
    if not 1 <= k <= 100:
        raise _refuse("k", "between 1 and 100", f"k must be 1 to 100, not {k}.")
    payload = {"k": k, "max_persons": max_persons}
    return enqueue(session, EVALUATION_KIND, payload, created_by=created_by, max_attempts=1)


def queue_uplift(
    session: Session, campaign: str, *, days: int | None = None, created_by: str | None = None
) -> Job:
    """Queue an uplift model of a past campaign with a control group (by its code)."""
    from closedloop.campaigns.models import Campaign

    if days is not None and not 1 <= days <= 730:
        raise _refuse("days", "between 1 and 730", "The response window must be 1 to 730 days.")
    if session.scalar(select(Campaign.id).where(Campaign.code == campaign).limit(1)) is None:
        raise _refuse("campaign", "no such campaign", f"There is no campaign {campaign!r}.")
    payload = {"campaign": campaign, "days": days}
    return enqueue(session, UPLIFT_KIND, payload, created_by=created_by, max_attempts=1)


def latest(session: Session, kind: str, *, done: bool = False) -> Job | None:
    """The newest job of a targeting ``kind`` (only finished ones with ``done``)."""
    stmt = select(Job).where(Job.kind == kind)
    if done:
        stmt = stmt.where(Job.status == "done")
    return session.scalars(stmt.order_by(Job.id.desc()).limit(1)).first()


def get(session: Session, job_id: int, kind: str | None = None) -> Job:
    """A targeting job (of ``kind`` if given), or NotFound."""
    job = session.get(Job, job_id)
    if job is None or job.kind not in KINDS or (kind is not None and job.kind != kind):
        raise NotFound(f"There is no targeting analysis {job_id}.")
    return job


def cluster_segment_from_job(
    session: Session, job_id: int, cluster: int, name: str, *, created_by: str | None = None
) -> dict[str, Any]:
    """Freeze cluster ``cluster`` of the finished clustering job ``job_id`` as the snapshot
    segment ``name`` (its members found again from the stored model)."""
    from closedloop.targeting.clusters import cluster_segment

    job = get(session, job_id, CLUSTERS_KIND)
    if job.status != "done" or not job.result:
        raise Conflict(f"Clustering {job_id} is {job.status}; wait until it is done.")
    return cluster_segment(session, job.result, cluster, name, created_by=created_by)


def uplift_segment_from_job(
    session: Session, job_id: int, share: float, name: str, *, created_by: str | None = None
) -> dict[str, Any]:
    """Freeze the top ``share`` (e.g. 0.3) of the members of the finished uplift job
    ``job_id``, by predicted uplift, as the snapshot segment ``name`` (from its stored ranking)."""
    from closedloop.targeting.uplift import uplift_segment

    job = get(session, job_id, UPLIFT_KIND)
    if job.status != "done" or not job.result:
        raise Conflict(f"Uplift analysis {job_id} is {job.status}; wait until it is done.")
    return uplift_segment(session, job.result, share, name, created_by=created_by)


def run_propensity(ctx: JobContext) -> dict[str, Any]:
    """Handler of ``targeting.propensity``: train, evaluate, rank, freeze the segment asked."""
    from closedloop.targeting.propensity import propensity, propensity_segment

    p = ctx.payload
    with unit_of_work(ctx.factory) as session:
        result = propensity(
            session, str(p["category"]), horizon_days=int(p["horizon_days"]), progress=ctx.progress
        )
        data = result.as_dict(top=20)
        if p.get("segment"):
            ctx.progress(0.95, said.SAVING)
            data["segment"] = propensity_segment(
                session, result, str(p["segment"]), top=p.get("top"),
                threshold=p.get("threshold"), created_by=ctx.payload.get("created_by"),
            )  # fmt: skip
    return data


def run_clusters(ctx: JobContext) -> dict[str, Any]:
    """Handler of ``targeting.clusters``: the clusters, their profiles and the model (the
    members are not stored: :func:`cluster_segment_from_job` finds them again)."""
    from closedloop.targeting.clusters import clusters

    with unit_of_work(ctx.factory) as session:
        result = clusters(session, ctx.payload.get("k"), progress=ctx.progress)
    return {key: value for key, value in result.items() if key != "members"}


def run_uplift(ctx: JobContext) -> dict[str, Any]:
    """Handler of ``targeting.uplift``: the two models, the Qini curve, the best persons, and
    every member's id by uplift (``ranking``, for :func:`uplift_segment_from_job`)."""
    from closedloop.targeting.uplift import campaign_uplift

    with unit_of_work(ctx.factory) as session:
        result = campaign_uplift(session, str(ctx.payload["campaign"]),
                                 days=ctx.payload.get("days"), progress=ctx.progress)  # fmt: skip
    ranking = result.pop("ranking")
    result["top"] = [{"person_id": p, "uplift": u} for p, u in ranking[:20]]
    result["ranking"] = [p for p, _ in ranking]  # best first: "save the top share as a segment"
    return result


def run_evaluation(ctx: JobContext) -> dict[str, Any]:
    """Handler of ``targeting.evaluation``: hit-rate@k and MRR against popularity."""
    from closedloop.targeting.recommend import evaluate

    ctx.progress(0.1, said.HIDING)
    with unit_of_work(ctx.factory) as session:
        return evaluate(session, k=int(ctx.payload.get("k") or 5),
                        max_persons=ctx.payload.get("max_persons"))  # fmt: skip
