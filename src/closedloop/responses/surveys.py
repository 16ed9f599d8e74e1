"""Surveys: questionnaires answered on a public page (a signed link in a mailing or handed
out), or asked during a call; answers may fill catalogue attributes.

Question kinds: ``single`` and ``multiple`` choice, ``scale`` (``min_value``–``max_value``),
``nps`` (0–10, "how likely are you to recommend us") and ``text``. An answer outside its
scale, a choice that is not offered, a missing required answer is refused with the question
named (``answers.<code>``) and nothing is stored.

A person's submission of a survey is one ``survey`` response (against the message that
brought the link, its wave and cell); submitting again replaces the answers and counts in
``hits``. A question with ``attribute_code`` writes its answer into the person's catalogue
attribute of that code (a number for a scale, the choice for a choice question, the text).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, model_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, Communication
from closedloop.contacts.models import AttributeChoice, AttributeDefinition, AttributeValue
from closedloop.contacts.service import golden_record
from closedloop.contacts.validation import check_text
from closedloop.db.types import DbId
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.responses.capture import Reaction, now, record
from closedloop.responses.models import Answer, Question, Response, Survey
from closedloop.vocab import AttributeType, ResponseKind

Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
#: A survey's wording: no control character (PostgreSQL cannot store NUL, and none is meant).
Text = Annotated[str, BeforeValidator(check_text)]


class QuestionKind(StrEnum):
    """What kind of answer a question takes."""

    SINGLE = "single"
    MULTIPLE = "multiple"
    SCALE = "scale"
    NPS = "nps"
    TEXT = "text"


class QuestionCreate(BaseModel):
    """A question of a new survey."""

    code: Code
    text: Text = Field(min_length=1, max_length=2000)
    kind: QuestionKind
    choices: list[Annotated[Text, StringConstraints(min_length=1, max_length=200)]] | None = None
    min_value: int | None = Field(default=None, ge=-1000, le=1000)
    max_value: int | None = Field(default=None, ge=-1000, le=1000)
    required: bool = False
    attribute_code: Code | None = None

    @model_validator(mode="after")
    def _shape(self) -> QuestionCreate:
        if self.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            if not self.choices or len(set(self.choices)) < 2:
                raise ValueError(f"{self.code}: a choice question needs two different choices")
        elif self.choices:
            raise ValueError(f"{self.code}: only choice questions have choices")
        if self.kind is QuestionKind.NPS:
            self.min_value, self.max_value = 0, 10
        elif self.kind is QuestionKind.SCALE:
            low, high = self.min_value, self.max_value
            if low is None or high is None or low >= high:
                raise ValueError(f"{self.code}: a scale needs min_value below max_value")
        return self


class SurveyCreate(BaseModel):
    """A new survey and its questions (in order)."""

    code: Code
    title: Text = Field(min_length=1, max_length=200)
    intro: Text | None = Field(default=None, max_length=5000)
    campaign_id: DbId | None = None
    questions: list[QuestionCreate] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique(self) -> SurveyCreate:
        codes = [q.code for q in self.questions]
        if len(set(codes)) != len(codes):
            raise ValueError("question codes must be different")
        return self


def _attribute(session: Session, code: str) -> AttributeDefinition | None:
    return session.scalar(select(AttributeDefinition).where(AttributeDefinition.code == code))


_FITS = {
    QuestionKind.SINGLE: {AttributeType.CHOICE, AttributeType.TEXT},
    QuestionKind.MULTIPLE: {AttributeType.MULTI_CHOICE},
    QuestionKind.SCALE: {AttributeType.NUMBER},
    QuestionKind.NPS: {AttributeType.NUMBER},
    QuestionKind.TEXT: {AttributeType.TEXT},
}


def create_survey(session: Session, data: SurveyCreate) -> Survey:
    """Create a survey; its code must be new and attribute codes must exist and fit."""
    if session.scalar(select(Survey.id).where(Survey.code == data.code)) is not None:
        raise Conflict(f"A survey {data.code!r} exists already.")
    errors = []
    if data.campaign_id is not None and session.get(Campaign, data.campaign_id) is None:
        errors.append({"field": "campaign_id", "message": f"{data.campaign_id} does not exist"})
    for q in data.questions:
        if q.attribute_code is None:
            continue
        found = _attribute(session, q.attribute_code)
        if found is None:
            errors.append(
                {
                    "field": f"questions.{q.code}.attribute_code",
                    "message": f"no catalogue attribute {q.attribute_code!r}",
                }
            )
        elif AttributeType(found.type) not in _FITS[q.kind]:
            errors.append(
                {
                    "field": f"questions.{q.code}.attribute_code",
                    "message": f"a {q.kind.value} answer cannot fill a {found.type} attribute",
                }
            )
    if errors:
        raise ValidationFailed("The survey cannot be saved as given.", errors=errors)
    survey = Survey(
        code=data.code,
        title=data.title,
        intro=data.intro,
        campaign_id=data.campaign_id,
        active=True,
    )
    session.add(survey)
    session.flush()
    for i, q in enumerate(data.questions):
        session.add(
            Question(
                survey_id=survey.id,
                position=i,
                code=q.code,
                text=q.text,
                kind=q.kind.value,
                choices=q.choices,
                min_value=q.min_value,
                max_value=q.max_value,
                required=q.required,
                attribute_code=q.attribute_code,
            )
        )
    session.flush()
    return survey


def get_survey(session: Session, ident: int | str) -> Survey:
    """A survey by id or code; NotFound."""
    cond = Survey.id == ident if isinstance(ident, int) else Survey.code == ident
    found = session.scalar(select(Survey).where(cond))
    if found is None:
        raise NotFound(f"No survey {ident!r}.")
    return found


def questions(session: Session, survey_id: int) -> list[Question]:
    """A survey's questions in order."""
    return list(
        session.scalars(
            select(Question).where(Question.survey_id == survey_id).order_by(Question.position)
        )
    )


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v) != ""]
    return [str(value)]


def _check(q: Question, value: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The answer rows of ``value`` for ``q``, or the reason it is refused."""
    given = _as_list(value)
    if not given:
        return [], "an answer is required" if q.required else None
    kind = QuestionKind(q.kind)
    if kind is QuestionKind.TEXT:
        text = " ".join(given).strip()
        if len(text) > 2000:
            return [], "at most 2,000 characters"
        return [{"answer_text": text}], None
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        offered = q.choices or []
        wrong = [g for g in given if g not in offered]
        if wrong:
            return [], f"{wrong[0]!r} is not one of the choices ({', '.join(offered)})"
        if kind is QuestionKind.SINGLE and len(given) > 1:
            return [], "one choice only"
        return [{"answer_choice": g} for g in dict.fromkeys(given)], None
    if len(given) > 1:
        return [], "one number only"
    try:
        number = Decimal(given[0].strip())
    except ArithmeticError:
        return [], f"{given[0]!r} is not a number"
    low, high = q.min_value, q.max_value
    if (
        number != number.to_integral_value()
        or (low is not None and number < low)
        or (high is not None and number > high)
    ):
        return [], f"{given[0]} is outside the scale {low}–{high} (whole numbers)"
    return [{"answer_number": number}], None


def _fill_attribute(
    session: Session, person_id: int, q: Question, rows: list[dict[str, Any]]
) -> None:
    definition = _attribute(session, q.attribute_code or "")
    if definition is None or not rows:
        return
    session.execute(
        delete(AttributeValue).where(
            AttributeValue.definition_id == definition.id, AttributeValue.person_id == person_id
        )
    )
    for row in rows:
        value = AttributeValue(
            definition_id=definition.id, person_id=person_id, source_system="survey"
        )
        if "answer_number" in row:
            value.value_number = row["answer_number"]
        elif "answer_text" in row:
            value.value_text = row["answer_text"][:1000]
        elif definition.type == AttributeType.TEXT:
            value.value_text = row["answer_choice"]
        else:
            choice = session.scalar(
                select(AttributeChoice.id).where(
                    AttributeChoice.definition_id == definition.id,
                    AttributeChoice.code == row["answer_choice"],
                )
            )
            if choice is None:
                continue
            value.choice_id = choice
        session.add(value)


def submit(
    session: Session,
    survey: Survey,
    answers: Mapping[str, Any],
    *,
    person_id: int | None = None,
    communication_id: int | None = None,
    channel: str = "web",
) -> Response:
    """Store a person's answers to ``survey`` (``person_id`` or the message's person); all
    refused with every question's reason when one does not fit."""
    if not survey.active:
        raise Conflict("This survey is closed.")
    if communication_id is not None:
        owner = session.scalar(
            select(Communication.person_id).where(Communication.id == communication_id)
        )
        if owner is None:
            raise NotFound("The message of this survey link no longer exists.")
        person_id = owner
    if person_id is None:
        raise ValidationFailed(
            "Whose answers?", errors=[{"field": "person_id", "message": "required"}]
        )
    pid = golden_record(session, person_id).id
    asked = questions(session, survey.id)
    known = {q.code for q in asked}
    errors = [
        {"field": f"answers.{k}", "message": "no such question"} for k in answers if k not in known
    ]
    checked: list[tuple[Question, list[dict[str, Any]]]] = []
    for q in asked:
        rows, problem = _check(q, answers.get(q.code or ""))
        if problem:
            errors.append({"field": f"answers.{q.code}", "message": problem})
        checked.append((q, rows))
    if errors:
        raise ValidationFailed("Some answers cannot be taken.", errors=errors)
    reaction = Reaction(
        kind=ResponseKind.SURVEY.value,
        occurred_at=now(),
        communication_id=communication_id,
        person_id=pid,
        campaign_id=survey.campaign_id,
        dedupe=f"survey:{survey.code}",
        detail={"survey": survey.code, "channel": channel},
        source_system="survey",
    )
    record(session, [reaction])
    response = _survey_response(session, pid, survey.code, communication_id)
    ids = [q.id for q in asked]
    session.execute(delete(Answer).where(Answer.person_id == pid, Answer.question_id.in_(ids)))
    for q, rows in checked:
        for row in rows:
            session.add(Answer(question_id=q.id, person_id=pid, response_id=response.id, **row))
        if q.attribute_code:
            _fill_attribute(session, pid, q, rows)
    session.flush()
    return response


def _survey_response(session: Session, pid: int, code: str, comm: int | None) -> Response:
    stmt = select(Response).where(
        Response.kind == ResponseKind.SURVEY.value, Response.person_id == pid
    )
    if comm is not None:
        stmt = stmt.where(Response.communication_id == comm)
    for row in session.scalars(stmt.order_by(Response.id.desc())):
        if (row.detail or {}).get("survey") == code:
            return row
    raise NotFound("the survey response was not stored")  # cannot happen: recorded above
