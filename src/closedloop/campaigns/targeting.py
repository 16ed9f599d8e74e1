"""A campaign's targeting: its target segment and the options of its extraction (one person
per household, stratification by value tier, message weight, expected value, A/B test with an
automatic winner)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.models import Campaign, Cell
from closedloop.campaigns.schemas import ABMetric, ABTestPublic, TestsCreate, TestsPublic
from closedloop.errors import NotFound, ValidationFailed
from closedloop.segments.models import Segment

#: Metrics an A/B test can be decided on (response kinds per message sent).
AB_METRICS: tuple[str, ...] = get_args(ABMetric)


@dataclass
class TargetingOptions:
    """What may be set on a campaign's targeting (None: leave as is)."""

    segment_id: int | None = None
    one_per_household: bool | None = None
    stratify_by_tier: bool | None = None
    weight: int | None = None
    expected_value: float | None = None
    ab_test_share: float | None = None
    ab_metric: str | None = None
    ab_decide_after_hours: float | None = None


def find_campaign(session: Session, ref: str | int) -> Campaign:
    """A campaign by id, or by code (its latest version: versions share the code); NotFound
    naming the reference."""
    text = str(ref)
    campaign = session.get(Campaign, int(text)) if text.isdigit() else None
    if campaign is None:
        latest = select(Campaign).where(Campaign.code == text).order_by(Campaign.version.desc())
        campaign = session.scalars(latest.limit(1)).first()
    if campaign is None:
        raise NotFound(f"Campaign {ref} does not exist.")
    return campaign


def _check(session: Session, o: TargetingOptions) -> list[dict[str, str]]:
    errors = []
    if o.segment_id is not None and session.get(Segment, o.segment_id) is None:
        errors.append({"field": "segment", "reason": f"segment {o.segment_id} does not exist"})
    if o.weight is not None and not 0 <= o.weight <= 100:
        errors.append({"field": "weight", "reason": "must be 0–100"})
    if o.ab_test_share is not None and not 0 < o.ab_test_share < 1:
        errors.append({"field": "ab_test_share", "reason": "must be between 0 and 1 (exclusive)"})
    if o.ab_metric is not None and o.ab_metric not in AB_METRICS:
        errors.append({"field": "ab_metric", "reason": f"must be one of {', '.join(AB_METRICS)}"})
    if o.ab_decide_after_hours is not None and not 0 < o.ab_decide_after_hours <= 24 * 60:
        errors.append({"field": "ab_decide_after_hours", "reason": "must be above 0, at most 1440"})
    return errors


def set_targeting(session: Session, ref: str | int, options: TargetingOptions) -> CampaignTargeting:
    """Set the given options on campaign ``ref``'s targeting (created on first use).
    ValidationFailed names each bad field; nothing is written then."""
    campaign = find_campaign(session, ref)
    errors = _check(session, options)
    if errors:
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        raise ValidationFailed(f"Targeting of {campaign.code}: {detail}.", errors=errors)
    row = session.get(CampaignTargeting, campaign.id)
    if row is None:
        row = CampaignTargeting(campaign_id=campaign.id, one_per_household=False,
                                stratify_by_tier=False, weight=1, expected_value=0.0)  # fmt: skip
        session.add(row)
    for name, value in asdict(options).items():
        if value is not None:
            setattr(row, name, value)
    if row.ab_test_share is not None and not row.ab_metric:
        row.ab_metric = "click"
    if row.ab_test_share is not None and not row.ab_decide_after_hours:
        row.ab_decide_after_hours = 24.0
    session.flush()
    return row


def targeting_dict(row: CampaignTargeting | None) -> dict[str, Any]:
    """The targeting as JSON-ready values ({} when none is set)."""
    if row is None:
        return {}
    names = ("campaign_id", "segment_id", "one_per_household", "stratify_by_tier", "weight",
             "expected_value", "ab_test_share", "ab_metric", "ab_decide_after_hours",
             "ab_winner_cell_id", "ab_decided_at")  # fmt: skip
    return {name: getattr(row, name) for name in names}


def targeting_of(session: Session, campaign_id: int) -> dict[str, Any]:
    """Campaign ``campaign_id``'s targeting as JSON-ready values ({} when none is set)."""
    return targeting_dict(session.get(CampaignTargeting, campaign_id))


def clear_ab_test(session: Session, campaign_id: int) -> None:
    """Take the A/B test off the campaign: its treatment cells then share the whole audience
    as their shares say. Nothing to do when it has none."""
    row = session.get(CampaignTargeting, campaign_id)
    if row is not None and row.ab_test_share is not None:
        row.ab_test_share = row.ab_metric = row.ab_decide_after_hours = None
        session.flush()


def set_tests(session: Session, campaign_id: int, tests: TestsCreate) -> None:
    """Make ``tests`` campaign ``campaign_id``'s tests (stratification, one per household,
    A/B test or none), after its cells are written: an A/B test needs two treatment cells or
    more (ValidationFailed naming ``tests.ab_test`` otherwise)."""
    ab = tests.ab_test
    if ab is not None:
        treatments = session.scalar(
            select(func.count(Cell.id)).where(Cell.campaign_id == campaign_id, ~Cell.is_control)
        )
        if (treatments or 0) < 2:
            raise ValidationFailed(
                "An A/B test needs two treatment cells or more.",
                errors=[{"field": "tests.ab_test", "message": "needs two treatment cells or more"}],
            )
    options = TargetingOptions(
        stratify_by_tier=tests.stratify_by_tier,
        one_per_household=tests.one_per_household,
        ab_test_share=ab.share if ab else None,
        ab_metric=ab.metric if ab else None,
        ab_decide_after_hours=ab.decide_after_hours if ab else None,
    )
    set_targeting(session, campaign_id, options)
    if ab is None:
        clear_ab_test(session, campaign_id)


def clear_segment(session: Session, campaign_id: int) -> None:
    """Take the target segment off the campaign (it then has none until one is set)."""
    row = session.get(CampaignTargeting, campaign_id)
    if row is not None:
        row.segment_id = None
        session.flush()


def tests_of(session: Session, campaign_id: int, cells: list[Cell]) -> TestsPublic:
    """Campaign ``campaign_id``'s tests as shown (``cells``: its cells, for the hold-out share
    and the A/B winner's code)."""
    holdout = round(sum(c.share for c in cells if c.is_control), 6)
    row = session.get(CampaignTargeting, campaign_id)
    if row is None:
        return TestsPublic(holdout_share=holdout)
    ab = None
    if row.ab_test_share is not None:
        codes = {c.id: c.code for c in cells}
        ab = ABTestPublic(
            share=row.ab_test_share,
            metric=row.ab_metric or "click",
            decide_after_hours=row.ab_decide_after_hours or 24.0,
            winner_cell=codes.get(row.ab_winner_cell_id or 0),
            decided_at=row.ab_decided_at,
        )
    return TestsPublic(
        stratify_by_tier=row.stratify_by_tier,
        one_per_household=row.one_per_household,
        ab_test=ab,
        holdout_share=holdout,
    )
