"""``/api/v1/surveys``: create questionnaires, read their results, record answers given
during a call, and hand out a person's signed survey link."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from closedloop.api.auth import requires
from closedloop.api.params import Id
from closedloop.api.problems import problem_responses
from closedloop.campaigns.tracking import survey_url
from closedloop.db.types import DbId
from closedloop.deps import DbSession
from closedloop.responses import survey_report, surveys
from closedloop.responses.queries import ResponsePublic
from closedloop.users.models import User
from closedloop.users.permissions import Permission

router = APIRouter(prefix="/surveys", tags=["surveys"])
Manager = Annotated[User, Depends(requires(Permission.CAMPAIGNS_MANAGE))]
Analyst = Annotated[User, Depends(requires(Permission.ANALYTICS_RUN))]
Writer = Annotated[User, Depends(requires(Permission.PERSONS_WRITE))]


class QuestionPublic(BaseModel):
    """A question as stored."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str | None
    text: str
    kind: str
    choices: list[str] | None
    min_value: int | None
    max_value: int | None
    required: bool
    attribute_code: str | None


class SurveyPublic(BaseModel):
    """A survey with its questions."""

    id: int
    code: str
    title: str
    intro: str | None
    campaign_id: int | None
    active: bool
    questions: list[QuestionPublic]


class AnswersCreate(BaseModel):
    """A person's answers by question code (a list for a multiple-choice question)."""

    person_id: DbId
    communication_id: DbId | None = None
    answers: dict[str, Any] = Field(max_length=100)


class LinkPublic(BaseModel):
    """A person's signed link to the survey's page."""

    url: str


def _public(db: DbSession, survey: Any) -> SurveyPublic:
    qs = [QuestionPublic.model_validate(q) for q in surveys.questions(db, survey.id)]
    return SurveyPublic(
        id=survey.id,
        code=survey.code,
        title=survey.title,
        intro=survey.intro,
        campaign_id=survey.campaign_id,
        active=survey.active,
        questions=qs,
    )


@router.post(
    "",
    response_model=SurveyPublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
def create(db: DbSession, user: Manager, body: surveys.SurveyCreate) -> SurveyPublic:
    """Create a survey and its questions (single, multiple, scale, nps, text)."""
    return _public(db, surveys.create_survey(db, body))


@router.get(
    "/{survey_id}", response_model=SurveyPublic, responses=problem_responses(401, 403, 404, 422)
)
def read(db: DbSession, user: Analyst, survey_id: Id) -> SurveyPublic:
    """A survey and its questions."""
    return _public(db, surveys.get_survey(db, survey_id))


@router.get("/{survey_id}/report", responses=problem_responses(401, 403, 404, 422))
def report(db: DbSession, user: Analyst, survey_id: Id) -> dict[str, Any]:
    """A survey's results per question: counts, mean, NPS, latest texts."""
    return asdict(survey_report.survey_report(db, surveys.get_survey(db, survey_id)))


@router.post(
    "/{survey_id}/answers",
    response_model=ResponsePublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def answer(db: DbSession, user: Writer, survey_id: Id, body: AnswersCreate) -> ResponsePublic:
    """Record a person's answers given during a call (an answer outside its scale, or a
    choice not offered, is refused naming the question)."""
    survey = surveys.get_survey(db, survey_id)
    response = surveys.submit(
        db,
        survey,
        body.answers,
        person_id=body.person_id,
        communication_id=body.communication_id,
        channel="call",
    )
    return ResponsePublic.model_validate(response)


@router.get(
    "/{survey_id}/link", response_model=LinkPublic, responses=problem_responses(401, 403, 404, 422)
)
def link(
    db: DbSession,
    user: Manager,
    survey_id: Id,
    person_id: Annotated[DbId, Query(description="The person the link is for.")],
) -> LinkPublic:
    """A person's signed link to the survey's public page."""
    survey = surveys.get_survey(db, survey_id)
    return LinkPublic(url=survey_url(survey.code, person_id=person_id))
