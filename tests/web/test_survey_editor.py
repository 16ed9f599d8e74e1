"""The survey editor: a questionnaire of every kind (choices, scale, NPS, text) written in the
form, questions added, moved and removed without a script, previewed as a respondent sees it,
saved, then answered on the public page and shown on the report page; every error names its
question and field and nothing is half written; roles and CSRF."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns import tracking
from closedloop.contacts.models import AttributeDefinition
from closedloop.db.uow import unit_of_work
from closedloop.responses import surveys
from closedloop.responses.models import Question, Survey

FORM = {
    "code": "SAT", "title": "How did we do?", "intro": "Two minutes.",
    "questions-0-code": "nps", "questions-0-text": "Would you recommend us?",
    "questions-0-kind": "nps", "questions-0-required": "on",
    "questions-0-attribute_code": "nps_score",
    "questions-1-code": "csat", "questions-1-text": "How satisfied are you?",
    "questions-1-kind": "scale", "questions-1-min_value": "1", "questions-1-max_value": "5",
    "questions-2-code": "genre", "questions-2-text": "Your favourite genre?",
    "questions-2-kind": "single", "questions-2-choices": "novel\r\npoetry\r\n\r\ncomics",
    "questions-3-code": "where", "questions-3-text": "Where do you buy?",
    "questions-3-kind": "multiple", "questions-3-choices": "shop\nweb",
    "questions-4-code": "why", "questions-4-text": "Why?", "questions-4-kind": "text",
}  # fmt: skip


def _summary(page: str) -> list[str]:
    block = re.search(r'id="error-summary".*?</ul>', page, re.S)
    assert block, "no error summary on the page"
    items = re.findall(r"<li>(.*?)</li>", block.group(0), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", i)).split()) for i in items]


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count(Survey.id))) or 0)


def _catalogue(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        s.add(AttributeDefinition(code="nps_score", group="psychographic", type="number"))
        s.add(AttributeDefinition(code="motto", group="psychographic", type="text"))


def test_a_survey_of_every_kind_is_previewed_saved_answered_and_reported(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    _catalogue(factory)
    client = logged_in("marketer")
    listed = client.get("/surveys").text
    assert 'href="/surveys/new"' in listed
    token = web.page_token(client, "/surveys/new")
    preview = client.post("/surveys/new", data=FORM | {"csrf_token": token, "op": "preview"})
    assert preview.status_code == 200 and 'id="preview"' in preview.text
    shown = preview.text[preview.text.index('id="preview"') :]
    assert 'type="radio" name="genre" value="comics"' in shown  # the blank line is no choice
    assert 'type="checkbox" name="where" value="web"' in shown
    assert 'name="csat" value="5"' in shown and 'name="csat" value="6"' not in shown
    assert 'name="nps" value="10"' in shown and '<textarea name="why"' in shown
    assert _count(factory) == 0  # a preview saves nothing
    made = client.post("/surveys/new", data=FORM | {"csrf_token": token}, follow_redirects=False)
    assert made.status_code == 303, _summary(made.text)
    report_url = made.headers["location"]
    report = client.get(report_url).text
    assert "The survey is created." in report and "Would you recommend us?" in report
    with factory() as s:
        survey = surveys.get_survey(s, "SAT")
        rows = surveys.questions(s, survey.id)
    assert [(q.code, q.kind, q.required) for q in rows] == [
        ("nps", "nps", True), ("csat", "scale", False), ("genre", "single", False),
        ("where", "multiple", False), ("why", "text", False)]  # fmt: skip
    assert (rows[0].min_value, rows[0].max_value, rows[0].attribute_code) == (0, 10, "nps_score")
    assert (rows[1].min_value, rows[1].max_value) == (1, 5)
    assert rows[2].choices == ["novel", "poetry", "comics"]
    # a respondent answers on the public page; the report counts the answer
    client.cookies.clear()
    link = urlsplit(tracking.survey_url("SAT", person_id=_person(factory))).path
    answered = client.post(link, data={"nps": "9", "csat": "4", "genre": "poetry",
                                       "where": ["shop", "web"], "why": "Fast"},
                           follow_redirects=False)  # fmt: skip
    assert answered.status_code == 303, answered.text
    client = logged_in("marketer", "maria")
    report = client.get(report_url).text
    assert re.search(r'id="respondents">.*?<strong>1</strong>', report, re.S)
    assert "NPS +100" in report


def _person(factory: sessionmaker[Session]) -> int:
    from tests.integration.campaigns.waves import person

    with unit_of_work(factory) as s:
        return person(s, 1)


def test_questions_are_added_moved_and_removed_without_saving(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    client = logged_in("marketer")
    token = web.page_token(client, "/surveys/new")
    form = FORM | {"csrf_token": token}
    added = client.post("/surveys/new", data=form | {"op": "add-question"})
    assert 'id="f-questions-5-code" name="questions-5-code" type="text" value="q6"' in added.text
    assert "Would you recommend us?" in added.text  # what was typed is kept
    moved = client.post("/surveys/new", data=form | {"op": "down-question-0"})
    assert moved.text.index("How satisfied are you?") < moved.text.index("Would you recommend")
    removed = client.post("/surveys/new", data=form | {"op": "remove-question-2"})
    assert "Your favourite genre?" not in removed.text and "Where do you buy?" in removed.text
    assert _count(factory) == 0


def test_errors_name_the_question_and_the_field(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    _catalogue(factory)
    client = logged_in("marketer")
    token = web.page_token(client, "/surveys/new")
    form = FORM | {"csrf_token": token}
    bad = client.post("/surveys/new", data=form | {
        "questions-1-min_value": "5", "questions-1-max_value": "1",
        "questions-2-choices": "novel\nnovel", "questions-3-code": "nps",
        "questions-4-text": "", "title": "Bad\x00title"})  # fmt: skip
    assert bad.status_code == 422
    summary = _summary(bad.text)
    assert "Title: This text holds a control character, which cannot be stored." in summary
    assert "Question 4 (nps) · Code: Another question has this code." in summary
    assert _count(factory) == 0
    rules = client.post("/surveys/new", data=form | {
        "questions-1-min_value": "5", "questions-1-max_value": "1",
        "questions-2-choices": "novel\nnovel", "questions-4-text": ""})  # fmt: skip
    assert _summary(rules.text) == [
        "Question 2 (csat) · Lowest point: Give a lowest point below the highest point.",
        "Question 3 (genre) · Choices: Give two different choices or more.",
        "Question 5 (why) · Question: This field is required.",
    ]
    assert 'id="questions-2-choices-error"' in rules.text
    scale = client.post("/surveys/new", data=form | {"questions-1-max_value": "",
                                                      "questions-1-min_value": "x"})  # fmt: skip
    assert _summary(scale.text) == [
        "Question 2 (csat) · Lowest point: Enter a whole number.",
        "Question 2 (csat) · Highest point: This field is required.",
    ]
    attribute = client.post("/surveys/new", data=form | {"questions-4-attribute_code": "nps_score"})
    assert _summary(attribute.text) == [
        "Question 5 (why) · Fills the attribute: a text answer cannot fill a number attribute"
    ]
    none = client.post("/surveys/new", data={"csrf_token": token, "code": "E", "title": "Empty"})
    assert _summary(none.text) == ["Questions: Add a question or more."]
    assert _count(factory) == 0
    assert client.post("/surveys/new", data=form, follow_redirects=False).status_code == 303
    again = client.post("/surveys/new", data=form)
    assert _summary(again.text) == ["Code: A survey 'SAT' exists already."]
    with factory() as s:
        assert s.scalar(select(func.count(Question.id))) == 5


def test_roles_and_csrf(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    analyst = logged_in("analyst")
    assert analyst.get("/surveys/new").status_code == 403
    assert 'href="/surveys/new"' not in analyst.get("/surveys").text
    token = web.page_token(analyst, "/surveys")
    assert analyst.post("/surveys/new", data=FORM | {"csrf_token": token}).status_code == 403
    marketer = logged_in("marketer", "maria")
    assert marketer.post("/surveys/new", data=FORM).status_code == 403  # no CSRF token
    assert _count(factory) == 0
