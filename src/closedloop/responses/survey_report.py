"""A survey's results: per question, how many answered and what (counts per choice, the
distribution and mean of a scale, the Net Promoter Score, the latest free texts); and a
person's satisfaction for the card (their latest NPS and scale answers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.responses.models import Answer, Question, Survey
from closedloop.responses.surveys import QuestionKind, questions


@dataclass
class QuestionResult:
    """One question's answers."""

    code: str
    text: str
    kind: str
    answered: int
    #: (label, count) — choices in their order, or every point of a scale
    counts: list[tuple[str, int]] = field(default_factory=list)
    mean: float | None = None
    nps: float | None = None
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    texts: list[str] = field(default_factory=list)


@dataclass
class SurveyReport:
    """A survey's results."""

    survey_id: int
    code: str
    title: str
    respondents: int
    questions: list[QuestionResult]


def nps_of(scores: list[int]) -> tuple[float | None, int, int, int]:
    """(NPS, promoters, passives, detractors): % of 9–10 minus % of 0–6."""
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    passives = len(scores) - promoters - detractors
    if not scores:
        return None, 0, 0, 0
    return round(100 * (promoters - detractors) / len(scores), 1), promoters, passives, detractors


def _result(session: Session, q: Question) -> QuestionResult:
    kind = QuestionKind(q.kind)
    answered = (
        session.scalar(
            select(func.count(func.distinct(Answer.person_id))).where(Answer.question_id == q.id)
        )
        or 0
    )
    out = QuestionResult(q.code or str(q.id), q.text, q.kind, int(answered))
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        got = dict(
            session.execute(
                select(Answer.answer_choice, func.count())
                .where(Answer.question_id == q.id)
                .group_by(Answer.answer_choice)
            ).all()
        )
        out.counts = [(c, int(got.get(c, 0))) for c in q.choices or []]
    elif kind in (QuestionKind.SCALE, QuestionKind.NPS):
        values = [
            int(v or 0)
            for v in session.scalars(
                select(Answer.answer_number).where(
                    Answer.question_id == q.id, Answer.answer_number.is_not(None)
                )
            )
        ]
        low, high = q.min_value or 0, q.max_value if q.max_value is not None else 10
        out.counts = [(str(p), values.count(p)) for p in range(low, high + 1)]
        out.mean = round(sum(values) / len(values), 2) if values else None
        if kind is QuestionKind.NPS:
            out.nps, out.promoters, out.passives, out.detractors = nps_of(values)
    else:
        out.texts = [
            t
            for t in session.scalars(
                select(Answer.answer_text)
                .where(Answer.question_id == q.id, Answer.answer_text.is_not(None))
                .order_by(Answer.id.desc())
                .limit(20)
            )
            if t
        ]
    return out


def survey_report(session: Session, survey: Survey) -> SurveyReport:
    """The results of ``survey``."""
    asked = questions(session, survey.id)
    respondents = (
        session.scalar(
            select(func.count(func.distinct(Answer.person_id))).where(
                Answer.question_id.in_([q.id for q in asked])
            )
        )
        or 0
    )
    return SurveyReport(
        survey.id, survey.code, survey.title, int(respondents), [_result(session, q) for q in asked]
    )


@dataclass(frozen=True)
class Satisfaction:
    """A person's latest satisfaction answer: NPS (0–10) or a scale (CSAT)."""

    kind: str
    score: Decimal
    low: int
    high: int
    survey: str
    question: str
    answered_at: datetime

    @property
    def category(self) -> str | None:
        """promoter, passive or detractor (NPS only)."""
        if self.kind != QuestionKind.NPS.value:
            return None
        return "promoter" if self.score >= 9 else "detractor" if self.score <= 6 else "passive"


def satisfaction(session: Session, person_id: int) -> list[Satisfaction]:
    """The person's latest NPS answer and latest scale answer, if any."""
    out = []
    for kind in (QuestionKind.NPS, QuestionKind.SCALE):
        row = session.execute(
            select(Answer.answer_number, Answer.answered_at, Question, Survey.title)
            .join(Question, Question.id == Answer.question_id)
            .join(Survey, Survey.id == Question.survey_id)
            .where(
                Answer.person_id == person_id,
                Question.kind == kind.value,
                Answer.answer_number.is_not(None),
            )
            .order_by(Answer.answered_at.desc(), Answer.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            number, at, q, title = row
            out.append(
                Satisfaction(
                    kind.value,
                    Decimal(number or 0),
                    q.min_value or 0,
                    q.max_value if q.max_value is not None else 10,
                    title,
                    q.text,
                    at,
                )
            )
    return out
