"""The evaluation page of a campaign (M15): did it work against its control group? Verdict,
charts (funnel, conversion with intervals, lift per cell and wave), the tables, the A/B
winner, and the one-click segments of its responders, non-responders, buyers or a cell."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.db.uow import unit_of_work
from closedloop.deps import DbSession
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.evaluation import (
    evaluate,
    parse_rule,
    parse_source,
    report_dict,
    segment_from_evaluation,
)
from closedloop.evaluation.charts import BUILDERS
from closedloop.i18n import N_
from closedloop.reports.charts import to_json
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.web.rendering import flash, gettext_for, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import CHART_PAGE_POLICY, WebError, requires

router = page_router()

Reader = Annotated[User, requires(Permission.CAMPAIGNS_READ)]
Marketer = Annotated[User, requires(Permission.CAMPAIGNS_MANAGE)]
RULES = ("last-touch", "first-touch", "linear")


def _report(db: Any, campaign_id: int, rule: str) -> dict[str, Any]:
    try:
        return report_dict(evaluate(db, campaign_id, rule=parse_rule(rule)))
    except NotFound as exc:
        raise WebError(404, N_("Not found"), N_("This page or record does not exist.")) from exc
    except ValidationFailed as exc:
        raise WebError(
            400, N_("Bad request"), N_("Choose last-touch, first-touch or linear attribution.")
        ) from exc


@router.get("/campaigns/{campaign_id:int}/report", response_class=Response)
def report_page(request: Request, campaign_id: int, db: DbSession, user: Reader) -> Response:
    """A campaign's evaluation (``?rule=`` last-touch, first-touch or linear)."""
    rule = request.query_params.get("rule", "last-touch")[:32]
    report = _report(db, campaign_id, rule)
    gettext = gettext_for(request)
    figures = {name: to_json(build(report, gettext)) for name, build in BUILDERS.items()}
    context = {
        "active": "reports",
        "report": report,
        "figures": figures,
        "rules": RULES,
    }
    response = render(request, "evaluation/report.html", context)
    response.headers["Content-Security-Policy"] = CHART_PAGE_POLICY
    return response


@router.post("/campaigns/{campaign_id:int}/report/segments", response_class=Response)
async def make_segment(request: Request, campaign_id: int, user: Marketer) -> Response:
    """Freeze the chosen group of the campaign (responders, non-responders, buyers or a
    cell) into a snapshot segment, in one click."""
    form = await request.form()
    back = f"/campaigns/{campaign_id}/report"
    try:
        with unit_of_work(get_session_factory(get_engine())) as session:
            made = segment_from_evaluation(
                session,
                campaign_id,
                parse_source(form_str(form, "group")),
                form_str(form, "name"),
                cell=form_str(form, "cell") or None,
                created_by=user.username,
            )
            users_service.audit(session, user, "create", "segment", made.id, channel="web")
            message = gettext_for(request)(N_("Segment %(name)s made: %(count)s persons.")) % {
                "name": made.name,
                "count": made.frozen_count,
            }
    except NotFound as exc:
        raise WebError(404, N_("Not found"), N_("This page or record does not exist.")) from exc
    except (ValidationFailed, Conflict) as exc:
        flash(request, exc.detail, "error")
        return RedirectResponse(back, status_code=303)
    flash(request, message)
    return RedirectResponse(back, status_code=303)
