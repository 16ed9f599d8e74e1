"""Survey pages: the public questionnaire reached by a signed link (``/s/<token>``), and the
staff's list of surveys, the editor of a new one (:mod:`closedloop.web.survey_form`) and each
one's report (charts drawn as SVG bars, no script).

The public page's token is its credential and replaces the session CSRF token, as on the
preference centre: it names one message or person and one survey, and a cross-site attacker
cannot know it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from closedloop.access import PUBLIC
from closedloop.campaigns.models import Campaign
from closedloop.campaigns.tracking import read_survey
from closedloop.consent import TokenInvalid
from closedloop.contacts.models import AttributeDefinition
from closedloop.deps import DbSession
from closedloop.errors import Conflict, DomainError, NotFound, ValidationFailed
from closedloop.i18n import N_
from closedloop.responses import survey_report, surveys
from closedloop.responses.models import Answer, Question, Survey
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission, allowed
from closedloop.web import survey_form
from closedloop.web.rendering import flash, gettext_for, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.routes.signup import page
from closedloop.web.security import not_found, requires

public = APIRouter(include_in_schema=False, dependencies=[PUBLIC])
router = page_router()
Analyst = Annotated[User, requires(Permission.ANALYTICS_RUN)]
Manager = Annotated[User, requires(Permission.CAMPAIGNS_MANAGE)]


def _link_error(request: Request) -> Response:
    return page(request, "surveys/link_error.html", {}, status=404)


def _open(db: DbSession, token: str) -> tuple[Survey, Any]:
    link = read_survey(token)
    try:
        survey = surveys.get_survey(db, link.code)
    except NotFound as exc:
        raise TokenInvalid("unknown survey") from exc
    return survey, link


def _form(db: DbSession, request: Request, survey: Survey, token: str, **extra: Any) -> Response:
    context = {
        "survey": survey,
        "questions": surveys.questions(db, survey.id),
        "token": token,
        "values": extra.pop("values", {}),
        "errors": extra.pop("errors", {}),
    }
    return page(request, "surveys/page.html", context, status=extra.pop("status", 200))


@public.get("/s/{token}", response_class=Response)
def survey_page(request: Request, db: DbSession, token: str) -> Response:
    """The questionnaire of a signed survey link."""
    try:
        survey, _ = _open(db, token)
    except TokenInvalid:
        return _link_error(request)
    if not survey.active:
        return page(request, "surveys/closed.html", {"survey": survey})
    return _form(db, request, survey, token)


@public.post("/s/{token}", response_class=Response)
async def survey_submit(request: Request, db: DbSession, token: str) -> Response:
    """Store the answers; an answer that does not fit shows the form again, saying why."""
    try:
        survey, link = _open(db, token)
    except TokenInvalid:
        return _link_error(request)
    form = await request.form()
    values: dict[str, Any] = {}
    for name in form:
        got = [v for v in form.getlist(name) if isinstance(v, str)]
        values[name] = got if len(got) > 1 else (got[0] if got else "")
    try:
        surveys.submit(
            db,
            survey,
            values,
            person_id=link.person_id,
            communication_id=link.communication_id,
            channel="web",
        )
    except ValidationFailed as exc:
        errors = {str(e["field"]).removeprefix("answers."): e["message"] for e in exc.errors}
        return _form(db, request, survey, token, values=values, errors=errors, status=422)
    except (NotFound, Conflict):
        return _link_error(request)
    return RedirectResponse(f"/s/{token}/thanks", status_code=303)


@public.get("/s/{token}/thanks", response_class=Response)
def survey_thanks(request: Request, db: DbSession, token: str) -> Response:
    """Thank you for answering."""
    try:
        survey, _ = _open(db, token)
    except TokenInvalid:
        return _link_error(request)
    return page(request, "surveys/thanks.html", {"survey": survey})


@router.get("/surveys", response_class=Response)
def surveys_list(request: Request, db: DbSession, user: Analyst) -> Response:
    """Every survey with its number of questions and respondents."""
    rows = db.execute(
        select(Survey, func.count(func.distinct(Answer.person_id)))
        .outerjoin(Question, Question.survey_id == Survey.id)
        .outerjoin(Answer, Answer.question_id == Question.id)
        .group_by(Survey.id)
        .order_by(Survey.created_at.desc(), Survey.id.desc())
    ).all()
    may_create = allowed(user.role, Permission.CAMPAIGNS_MANAGE)
    return render(request, "surveys/list.html", {"rows": rows, "may_create": may_create})


def _editor(
    request: Request,
    db: DbSession,
    parsed: survey_form.SurveyForm,
    preview: list[Any] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "f": parsed,
        "values": parsed.values,
        "errors": parsed.errors,
        "summary": parsed.summary(gettext_for(request)),
        "kinds": survey_form.KINDS,
        "attributes": list(
            db.scalars(select(AttributeDefinition).order_by(AttributeDefinition.code))
        ),
        "campaigns": list(db.scalars(select(Campaign).order_by(Campaign.code, Campaign.version))),
        "preview": preview,
    }
    return render(request, "surveys/form.html", context, status=status)


@router.get("/surveys/new", response_class=Response)
def new_survey_page(request: Request, db: DbSession, user: Manager) -> Response:
    """The survey editor, with one question to start with."""
    return _editor(request, db, survey_form.new_form())


@router.post("/surveys/new", response_class=Response)
async def create_survey(request: Request, db: DbSession, user: Manager) -> Response:
    """Create the survey of the editor, then show its report page; or add, remove or move a
    question, or preview the questionnaire (nothing saved then)."""
    form = await request.form()
    parsed, op = survey_form.read(form), form_str(form, "op") or "save"
    if survey_form.apply_op(parsed, op):
        return _editor(request, db, parsed)
    gettext = gettext_for(request)
    doc = survey_form.document(parsed, gettext)
    if not parsed.errors:
        try:
            data = surveys.SurveyCreate.model_validate(doc)
            if op == "preview":
                shown = [SimpleNamespace(**q.model_dump()) for q in data.questions]
                return _editor(request, db, parsed, preview=shown)
            with db.begin_nested():  # a refusal keeps nothing of the survey
                survey = surveys.create_survey(db, data)
        except ValidationError as exc:
            survey_form.pydantic_errors(parsed, exc, gettext)
        except Conflict as exc:
            survey_form.domain_errors(parsed, exc, default="code")
        except DomainError as exc:
            survey_form.domain_errors(parsed, exc)
        else:
            users_service.audit(db, user, "create", "survey", survey.id, channel="web")
            flash(request, N_("The survey is created. Send it with survey_url in a template."))
            return RedirectResponse(f"/surveys/{survey.id}", status_code=303)
    return _editor(request, db, parsed, status=422)


@router.get("/surveys/{survey_id:int}", response_class=Response)
def survey_report_page(request: Request, db: DbSession, survey_id: int, user: Analyst) -> Response:
    """A survey's report: each question's answers as bars, the NPS, the latest texts."""
    try:
        survey = surveys.get_survey(db, survey_id)
    except NotFound as exc:
        raise not_found() from exc
    report = survey_report.survey_report(db, survey)
    return render(request, "surveys/report.html", {"survey": survey, "report": report})
