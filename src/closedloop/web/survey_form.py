"""The survey editor's form: a survey's code, title and introduction, and its questions in
order (``questions-<i>-<field>``), each of a kind (single or multiple choice with its choices,
a scale with its bounds, NPS, free text), required or not, optionally filling a catalogue
attribute. Buttons add, remove or move a question and preview the questionnaire; the page comes
back with nothing saved, so the editor works without a script. Every error names its question
and field in the page's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import ValidationError
from starlette.datastructures import FormData

from closedloop.errors import DomainError
from closedloop.i18n import N_
from closedloop.responses.surveys import QuestionKind
from closedloop.web import row_form
from closedloop.web.form_errors import REQUIRED
from closedloop.web.row_form import Gettext, RowForm

SURVEY_FIELDS = ("code", "title", "intro", "campaign_id")
QUESTION_FIELDS = ("code", "text", "kind", "choices", "min_value", "max_value", "required",
                   "attribute_code")  # fmt: skip
KINDS = tuple(k.value for k in QuestionKind)
MAX_QUESTIONS = 100

LABELS: dict[str, str] = {
    "code": N_("Code"),
    "title": N_("Title"),
    "intro": N_("Introduction"),
    "campaign_id": N_("Campaign"),
    "text": N_("Question"),
    "kind": N_("Kind"),
    "choices": N_("Choices"),
    "min_value": N_("Lowest point"),
    "max_value": N_("Highest point"),
    "required": N_("Required"),
    "attribute_code": N_("Fills the attribute"),
    "questions": N_("Questions"),
    "form": N_("The survey"),
}
#: The message of each question rule (pydantic gives them in English only).
RULES = {
    "a choice question needs two different choices": N_("Give two different choices or more."),
    "only choice questions have choices": N_("Only choice questions have choices."),
    "a scale needs min_value below max_value": N_("Give a lowest point below the highest point."),
}


@dataclass
class SurveyForm(RowForm):
    """A survey form as shown: its values, questions and errors by field name."""

    values: dict[str, str]
    questions: list[dict[str, str]]
    errors: dict[str, list[str]] = field(default_factory=dict)
    LABELS: ClassVar[Mapping[str, str]] = LABELS

    def rows(self) -> dict[str, list[dict[str, str]]]:
        """The questions."""
        return {"questions": self.questions}

    def row_name(self, kind: str, index: int, gettext: Gettext) -> str:
        """ "Question 2 (q2)"."""
        code = self.questions[index]["code"] if index < len(self.questions) else ""
        where = gettext(N_("Question %(n)s")) % {"n": index + 1}
        return where + (f" ({code})" if code else "")


def blank_question(questions: list[dict[str, str]]) -> dict[str, str]:
    """A new question row: a single choice, with a free code."""
    taken = {q["code"] for q in questions}
    n = len(questions) + 1
    while f"q{n}" in taken:
        n += 1
    return dict.fromkeys(QUESTION_FIELDS, "") | {"code": f"q{n}", "kind": "single"}


def new_form() -> SurveyForm:
    """The form of a new survey, with one question to start with."""
    return SurveyForm(dict.fromkeys(SURVEY_FIELDS, ""), [blank_question([])])


def read(form: FormData) -> SurveyForm:
    """The submitted form's values and questions, as typed (nothing checked yet)."""
    return SurveyForm(
        row_form.read_values(form, SURVEY_FIELDS),
        row_form.read_rows(form, "questions", QUESTION_FIELDS, MAX_QUESTIONS),
    )


def apply_op(parsed: SurveyForm, op: str) -> bool:
    """Add, remove or move a question as button ``op`` asks; False when ``op`` is no such
    button (save or preview)."""
    rows, blank = {"question": parsed.questions}, {"question": blank_question}
    return row_form.apply_row_op(op, rows, blank, MAX_QUESTIONS)


def document(parsed: SurveyForm, gettext: Gettext) -> dict[str, Any]:
    """The survey document of the form (for SurveyCreate); errors are added to ``parsed``."""
    parsed.check_controls(gettext)
    v = parsed.values
    doc: dict[str, Any] = {"code": v["code"], "title": v["title"], "intro": v["intro"] or None}
    doc |= parsed.typed("", v, {"campaign_id": int}, gettext)
    codes = [q["code"] for q in parsed.questions]
    questions = []
    for i, q in enumerate(parsed.questions):
        at = f"questions-{i}"
        if q["code"] and codes.count(q["code"]) > 1:
            parsed.add(f"{at}-code", gettext(N_("Another question has this code.")))
        kind = q["kind"] or "single"
        item: dict[str, Any] = {"code": q["code"], "text": q["text"], "kind": kind,
                                "required": bool(q["required"])}  # fmt: skip
        if kind in ("single", "multiple"):
            item["choices"] = [line.strip() for line in q["choices"].splitlines() if line.strip()]
        if kind == "scale":
            for bound in ("min_value", "max_value"):
                if not q[bound]:
                    parsed.add(f"{at}-{bound}", gettext(REQUIRED))
                else:
                    item[bound] = parsed.convert(f"{at}-{bound}", q[bound], int, gettext)
        if q["attribute_code"]:
            item["attribute_code"] = q["attribute_code"]
        questions.append(item)
    if not questions:
        parsed.add("questions", gettext(N_("Add a question or more.")))
    doc["questions"] = questions
    return doc


def _name_of(loc: tuple[Any, ...]) -> str:
    row = row_form.row_field(loc, ("questions",), lambda t: t if t in QUESTION_FIELDS else "")
    top = str(loc[0]) if loc else "form"
    return row or (top if top in (*SURVEY_FIELDS, "questions") else "form")


def _rule_field(message: str) -> tuple[str, str | None]:
    """The field a question rule concerns, and its translatable message."""
    for rule, text in RULES.items():
        if message.endswith(rule):
            part = "choices" if "choice" in rule else "min_value"
            return part, text
    return "", None


def pydantic_errors(parsed: SurveyForm, exc: ValidationError, gettext: Gettext) -> None:
    """Add the schema's errors to ``parsed``, each on its question and field."""

    def rule(name: str, message: str) -> tuple[str, str] | None:
        part, text = _rule_field(message)
        if text and name.startswith("questions-") and name.count("-") == 1:
            return f"{name}-{part}", gettext(text)
        if "question codes must be different" in message:
            return "", ""  # named on each question's code already
        return None

    parsed.add_schema_errors(exc, gettext, _name_of, rule)


def domain_errors(parsed: SurveyForm, exc: DomainError, *, default: str = "form") -> None:
    """Add a service's refusal to ``parsed``: ``questions.<code>.<field>`` goes to that
    question's field."""
    codes = [q["code"] for q in parsed.questions]

    def field_of(raw: str) -> str:
        found = re.fullmatch(r"questions\.(.+)\.(\w+)", raw)
        if found and found.group(1) in codes:
            return f"questions-{codes.index(found.group(1))}-{found.group(2)}"
        return raw if raw in SURVEY_FIELDS else "form"

    parsed.add_refusal(exc, field_of, default=default)
