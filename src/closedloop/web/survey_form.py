"""The survey editor's form: a survey's code, title and introduction, and its questions in
order (``questions-<i>-<field>``), each of a kind (single or multiple choice with its choices,
a scale with its bounds, NPS, free text), required or not, optionally filling a catalogue
attribute. Buttons add, remove or move a question and preview the questionnaire; the page comes
back with nothing saved, so the editor works without a script. Every error names its question
and field in the page's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from closedloop.contacts.validation import control_problem
from closedloop.errors import DomainError
from closedloop.i18n import N_
from closedloop.responses.surveys import QuestionKind
from closedloop.web.form_errors import REQUIRED, pydantic_message

Gettext = Callable[[str], str]

SURVEY_FIELDS = ("code", "title", "intro", "campaign_id")
QUESTION_FIELDS = ("code", "text", "kind", "choices", "min_value", "max_value", "required",
                   "attribute_code")  # fmt: skip
KINDS = tuple(k.value for k in QuestionKind)
MAX_QUESTIONS = 100
CONTROL_CHARACTER = N_("This text holds a control character, which cannot be stored.")

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
_ROW = re.compile(r"^questions-(\d+)(?:-(\w+))?$")


@dataclass
class SurveyForm:
    """A survey form as shown: its values, questions and errors by field name."""

    values: dict[str, str]
    questions: list[dict[str, str]]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        """Record ``message`` against field ``name`` (once)."""
        if message not in self.errors.setdefault(name, []):
            self.errors[name].append(message)

    def summary(self, gettext: Gettext) -> list[dict[str, str]]:
        """Every error with the question and field it names (``anchor``, ``where``,
        ``message``)."""
        out: list[dict[str, str]] = []
        for name, messages in self.errors.items():
            found = _ROW.match(name)
            if found:
                i, part = int(found.group(1)), found.group(2)
                code = self.questions[i]["code"] if i < len(self.questions) else ""
                where = gettext(N_("Question %(n)s")) % {"n": i + 1}
                where += f" ({code})" if code else ""
                if part:
                    where += " · " + gettext(LABELS.get(part, part))
            else:
                where = gettext(LABELS.get(name, name))
            anchor = f"f-{name}" if found is None or found.group(2) else name
            out.extend({"anchor": anchor, "where": where, "message": m} for m in messages)
        return out


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

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    values = {name: text(name) for name in SURVEY_FIELDS}
    indexes = sorted({int(m.group(1)) for key in form if (m := _ROW.match(key))})
    questions = [
        {name: text(f"questions-{i}-{name}") for name in QUESTION_FIELDS}
        for i in indexes[:MAX_QUESTIONS]
    ]
    return SurveyForm(values, questions)


def apply_op(parsed: SurveyForm, op: str) -> bool:
    """Add, remove or move a question as button ``op`` asks; False when ``op`` is no such
    button (save or preview)."""
    if op == "add-question":
        if len(parsed.questions) < MAX_QUESTIONS:
            parsed.questions.append(blank_question(parsed.questions))
        return True
    found = re.fullmatch(r"(remove|up|down)-question-(\d+)", op)
    if not found:
        return False
    verb, i = found.group(1), int(found.group(2))
    rows = parsed.questions
    if i < len(rows) and verb == "remove":
        rows.pop(i)
    elif i < len(rows):
        j = i - 1 if verb == "up" else i + 1
        if 0 <= j < len(rows):
            rows[i], rows[j] = rows[j], rows[i]
    return True


def _int(parsed: SurveyForm, name: str, raw: str, gettext: Gettext) -> int | None:
    try:
        return int(raw)
    except ValueError:
        parsed.add(name, gettext(N_("Enter a whole number.")))
        return None


def document(parsed: SurveyForm, gettext: Gettext) -> dict[str, Any]:
    """The survey document of the form (for SurveyIn); errors are added to ``parsed``."""
    named = list(parsed.values.items())
    named += [
        (f"questions-{i}-{k}", v) for i, q in enumerate(parsed.questions) for k, v in q.items()
    ]
    for name, value in named:
        if control_problem(value):
            parsed.add(name, gettext(CONTROL_CHARACTER))
    v = parsed.values
    doc: dict[str, Any] = {"code": v["code"], "title": v["title"], "intro": v["intro"] or None}
    if v["campaign_id"]:
        doc["campaign_id"] = _int(parsed, "campaign_id", v["campaign_id"], gettext)
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
                    item[bound] = _int(parsed, f"{at}-{bound}", q[bound], gettext)
        if q["attribute_code"]:
            item["attribute_code"] = q["attribute_code"]
        questions.append(item)
    if not questions:
        parsed.add("questions", gettext(N_("Add a question or more.")))
    doc["questions"] = questions
    return doc


def _name_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if not parts:
        return "form"
    if parts[0] == "questions" and len(parts) >= 2 and parts[1].isdigit():
        tail = parts[2] if len(parts) > 2 and parts[2] in QUESTION_FIELDS else ""
        return f"questions-{parts[1]}" + (f"-{tail}" if tail else "")
    return parts[0] if parts[0] in (*SURVEY_FIELDS, "questions") else "form"


def _rule_field(message: str) -> tuple[str, str | None]:
    """The field a question rule concerns, and its translatable message."""
    for rule, text in RULES.items():
        if message.endswith(rule):
            part = "choices" if "choice" in rule else "min_value"
            return part, text
    return "", None


def pydantic_errors(parsed: SurveyForm, exc: ValidationError, gettext: Gettext) -> None:
    """Add the schema's errors to ``parsed``, each on its question and field."""
    for error in exc.errors():
        name = _name_of(error["loc"])
        if error["type"] == "value_error":
            part, text = _rule_field(str(error["msg"]))
            if text and name.startswith("questions-") and name.count("-") == 1:
                parsed.add(f"{name}-{part}", gettext(text))
                continue
            if "question codes must be different" in str(error["msg"]):
                continue  # named on each question's code already
        parsed.add(name, pydantic_message(gettext, error))


def domain_errors(parsed: SurveyForm, exc: DomainError, *, default: str = "form") -> None:
    """Add a service's refusal to ``parsed``: ``questions.<code>.<field>`` goes to that
    question's field."""
    codes = [q["code"] for q in parsed.questions]
    for e in exc.errors or [{"field": default, "message": exc.detail}]:
        raw = str(e.get("field", default))
        name = raw if raw in SURVEY_FIELDS else "form"
        found = re.fullmatch(r"questions\.(.+)\.(\w+)", raw)
        if found and found.group(1) in codes:
            name = f"questions-{codes.index(found.group(1))}-{found.group(2)}"
        parsed.add(name, str(e.get("message") or exc.detail))
