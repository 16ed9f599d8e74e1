"""``/api/v1/campaigns/{id}/report``: a campaign's evaluation against its control group, and
its groups (responders, non-responders, buyers, a cell) as segments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from closedloop.api.auth import requires
from closedloop.api.problems import problem_responses
from closedloop.db.types import DbId
from closedloop.deps import DbSession
from closedloop.evaluation import (
    evaluate,
    parse_rule,
    parse_source,
    report_dict,
    segment_from_evaluation,
)
from closedloop.evaluation.schemas import ReportPublic, SegmentMade, SegmentRequest
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.users.service import audit

router = APIRouter(tags=["evaluation"])

Reader = Annotated[User, Depends(requires(Permission.CAMPAIGNS_READ))]
CampaignsUser = Annotated[User, Depends(requires(Permission.CAMPAIGNS_MANAGE))]
CampaignId = Annotated[DbId, Path(description="The campaign's id.")]


@router.get(
    "/campaigns/{campaign_id}/report",
    response_model=ReportPublic,
    responses=problem_responses(401, 403, 404, 422),
)
def campaign_report(
    campaign_id: CampaignId,
    db: DbSession,
    user: Reader,
    rule: Annotated[
        str,
        Query(max_length=32, description="Attribution rule: last-touch, first-touch or linear."),
    ] = "last-touch",
) -> ReportPublic:
    """The campaign's evaluation: per cell and wave contacted, delivered, opened, clicked,
    responded, converted, revenue, rates and cost; the lift against the control group (conversion:
    two-proportion z-test; revenue per person: Welch's t-test) with 95 % intervals and p-values
    (Holm-corrected across cells), incremental conversions and revenue, ROI; the A/B winner; a
    plain verdict. `final` is false while the response window is open."""
    return ReportPublic.model_validate(
        report_dict(evaluate(db, campaign_id, rule=parse_rule(rule)))
    )


@router.post(
    "/campaigns/{campaign_id}/report/segments",
    response_model=SegmentMade,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 415, 422),
)
def segment_from_report(
    campaign_id: CampaignId, body: SegmentRequest, db: DbSession, user: CampaignsUser
) -> SegmentMade:
    """Freeze a group of the evaluated campaign — `responders`, `non-responders`, `buyers` or
    a `cell` (code or id) — into a snapshot segment for the next campaign."""
    made = segment_from_evaluation(
        db,
        campaign_id,
        parse_source(body.group),
        body.name,
        cell=body.cell,
        created_by=user.username,
    )
    audit(db, user, "create", "segment", made.id, channel="api")
    return SegmentMade(
        id=made.id, name=made.name, members=made.frozen_count or 0, origin=made.origin or {}
    )
