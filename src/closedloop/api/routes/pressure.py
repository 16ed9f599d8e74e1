"""``/api/v1/pressure-rules``: contact-pressure rules (list, create or replace, delete), and
``/api/v1/waves/{id}/funnel``: a wave's extraction funnel with the persons left out per stage.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from closedloop.api.auth import requires
from closedloop.api.params import Id, Offset
from closedloop.api.problems import problem_responses
from closedloop.campaigns import funnel as funnel_service
from closedloop.campaigns import pressure as pressure_service
from closedloop.campaigns.extraction import STAGES
from closedloop.deps import DbSession
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.users.service import audit
from closedloop.vocab import Channel

router = APIRouter(tags=["coordination"])
Manager = Annotated[User, Depends(requires(Permission.CAMPAIGNS_MANAGE))]
#: the funnel is read by analysts too (every role with campaigns:read also has persons:read)
Reader = Annotated[User, Depends(requires(Permission.CAMPAIGNS_READ))]


class RuleCreate(BaseModel):
    """A pressure rule: at most ``max_messages`` (weighted) per ``period_days``."""

    name: str = Field(min_length=1, max_length=100, description="Its name (unique).")
    max_messages: int = Field(ge=0, le=1000, description="At most this many (weighted) messages")
    period_days: int = Field(ge=1, le=366, description="…in any window of this many days.")
    channel: Channel | None = Field(None, description="Only this channel; all when absent.")
    min_gap_hours: float = Field(0.0, ge=0, le=8784, description="Minimum hours between two.")
    tier: str | None = Field(None, max_length=8, description="Only persons of this value tier.")
    active: bool = True


class RulePublic(RuleCreate):
    """A stored pressure rule."""

    id: int


class StepPublic(BaseModel):
    """A stage of the funnel: how many left there, how many are still in after it."""

    stage: str
    excluded: int
    remaining: int


class ExclusionPublic(BaseModel):
    """A person a wave left out, with the stage and reason."""

    person_id: int
    stage: str
    reason: str


class FunnelPublic(BaseModel):
    """A wave's funnel: target → each stage → queued → sent."""

    wave_id: int
    target: int
    steps: list[StepPublic]
    queued: int
    ledger: dict[str, int] = Field(description="The wave's messages by status.")
    sent: int
    persons: list[ExclusionPublic] = Field(
        description="With ?stage=: the persons left out at that stage (paged)."
    )


def _out(rule: Any) -> RulePublic:
    return RulePublic.model_validate(rule, from_attributes=True)


@router.get("/pressure-rules", response_model=list[RulePublic])
def list_rules(db: DbSession, user: Manager) -> list[RulePublic]:
    """Every pressure rule, by name."""
    return [_out(r) for r in pressure_service.list_rules(db)]


@router.post(
    "/pressure-rules",
    response_model=RulePublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(422),
)
def save_rule(body: RuleCreate, db: DbSession, user: Manager) -> RulePublic:
    """Create a pressure rule, or replace the one of the same name."""
    data = body.model_dump()
    data["channel"] = body.channel.value if body.channel else None
    rule = pressure_service.save_rule(db, data.pop("name"), **data)
    audit(db, user, "save", "pressure_rule", rule.id, channel="api")
    return _out(rule)


@router.delete(
    "/pressure-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
def delete_rule(rule_id: Id, db: DbSession, user: Manager) -> Response:
    """Delete a pressure rule."""
    pressure_service.delete_rule(db, rule_id)
    audit(db, user, "delete", "pressure_rule", rule_id, channel="api")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/waves/{wave_id}/funnel", response_model=FunnelPublic, responses=problem_responses(404)
)
def wave_funnel(
    wave_id: Id,
    db: DbSession,
    user: Reader,
    stage: Annotated[str | None, Query(description="List the persons left at this stage: "
                                       + ", ".join(STAGES) + ".", max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many persons.")] = 100,
    offset: Offset = 0,
) -> FunnelPublic:  # fmt: skip
    """A wave's extraction funnel; with ``stage``, the persons left out there and why."""
    data = funnel_service.wave_funnel(db, wave_id).as_dict()
    persons = (
        funnel_service.exclusions(db, wave_id, stage=stage, limit=limit, offset=offset)
        if stage
        else []
    )
    data["persons"] = [ExclusionPublic(person_id=e.person_id, stage=e.stage, reason=e.reason)
                       for e in persons]  # fmt: skip
    return FunnelPublic.model_validate(data)
