"""A campaign's targeting: its target segment and the options of its extraction (one person
per household, stratification by value tier, message weight, expected value, A/B test with an
automatic winner)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.models import Campaign
from closedloop.errors import NotFound, ValidationFailed
from closedloop.segments.models import Segment

#: Metrics an A/B test can be decided on (response kinds per message sent).
AB_METRICS = ("open", "click", "purchase")


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
