"""Reports (M8, M9, M18): the scoring runs and the "Run scoring" button, the customer value
report and the demand report, with Plotly charts drawn offline.

Each chart's figure is embedded as JSON in a ``data-figure`` attribute and drawn by
``static/reports.js`` with the Plotly bundle of the installed plotly package, served from this
site (the Content-Security-Policy allows no inline script and no other origin).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.db.uow import unit_of_work
from closedloop.deps import DbSession
from closedloop.errors import Conflict, DomainError
from closedloop.i18n import N_
from closedloop.reports import charts
from closedloop.reports.demand import latest_snapshot, refresh_snapshot
from closedloop.reports.value import value_report
from closedloop.scoring import queries, service
from closedloop.scoring.schemas import ScoreParams
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.web.rendering import flash, gettext_for, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import CHART_PAGE_POLICY, WebError, requires

router = page_router()

Analyst = Annotated[User, requires(Permission.ANALYTICS_RUN)]
#: Seconds between reloads of the overview while a run is queued or running.
REFRESH_SECONDS = 3


def _figures(request: Request, builders: dict[str, Any], report: Any) -> dict[str, str]:
    """Each chart's figure as JSON (escaped again by the template's attribute)."""
    gettext = gettext_for(request)
    return {name: charts.to_json(build(report, gettext)) for name, build in builders.items()}


def _labeller(request: Request) -> Any:
    gettext = gettext_for(request)
    return lambda code: charts.label(gettext, code)


@router.get("/reports", response_class=Response)
def reports_home(request: Request, db: DbSession, user: Analyst) -> Response:
    """Scoring runs (with the button that starts one) and the links to the reports."""
    runs, total = queries.list_runs(db, limit=10)
    latest = queries.latest_run(db)
    active = next((r for r in runs if r.status in ("queued", "running")), None)
    context = {
        "active": "reports",
        "runs": runs,
        "total": total,
        "latest": latest,
        "running": active,
        "refresh_seconds": REFRESH_SECONDS if active else None,
        "vlabel": _labeller(request),
        "today": date.today().isoformat(),
    }
    return render(request, "reports/index.html", context)


@router.post("/reports/runs", response_class=Response)
async def start_run(request: Request, user: Analyst) -> Response:
    """Queue a scoring run as a ``scoring.run`` job (the worker of ``closedloop serve`` or
    ``closedloop worker`` runs it)."""
    form = await request.form()
    raw_as_of = form_str(form, "as_of").strip()
    try:
        as_of = datetime.strptime(raw_as_of, "%Y-%m-%d").date() if raw_as_of else None
        params = ScoreParams(
            as_of=as_of, update_lifecycle=form_str(form, "update_lifecycle") == "1"
        )
    except ValueError as exc:
        raise WebError(
            400, N_("Bad request"), N_("The as-of date must be a day such as 2026-11-22.")
        ) from exc
    try:
        with unit_of_work(get_session_factory(get_engine())) as session:
            run, _job = service.enqueue_run(session, params, created_by=user.username)
            users_service.audit(session, user, "started", "score_run", run.id, channel="web")
    except Conflict:
        flash(request, N_("A scoring run is already in progress."), "info")
        return RedirectResponse("/reports", status_code=303)
    flash(request, N_("Scoring started. This page refreshes until it has finished."))
    return RedirectResponse("/reports", status_code=303)


@router.get("/reports/value", response_class=Response)
def value_page(request: Request, db: DbSession, user: Analyst) -> Response:
    """The customer value report of the latest run (or ``?run=ID``)."""
    raw = request.query_params.get("run")
    run_id = int(raw) if raw and raw.isdigit() and len(raw) < 19 else None
    try:
        report = value_report(db, run_id)
    except DomainError as exc:
        raise WebError(404, N_("Not found"), N_("This page or record does not exist.")) from exc
    figures = (
        _figures(
            request,
            {
                "rfm": charts.rfm_grid,
                "clv": charts.clv_distribution,
                "tiers": charts.tier_shares,
                "alive": charts.alive_by_recency,
                "segments": charts.segment_change,
            },
            report,
        )
        if report.run is not None and report.run.status == "done"
        else {}
    )
    params = (report.run.params or {}) if report.run is not None else {}
    context = {
        "active": "reports",
        "report": report,
        "figures": figures,
        "vlabel": _labeller(request),
        # the CLV's horizon and discount rate, to name the figure for what it is
        "horizon_months": round(int(params.get("horizon_days") or 365) / 30.44),
        "discount_pct": round(float(params.get("discount_rate") or 0.1) * 100, 1),
    }
    response = render(request, "reports/value.html", context)
    response.headers["Content-Security-Policy"] = CHART_PAGE_POLICY
    return response


@router.get("/reports/demand", response_class=Response)
def demand_page(request: Request, db: DbSession, user: Analyst) -> Response:
    """Demand per category and month with forecast, its change, and cohort retention.

    Shows the snapshot stored after the latest scoring run; without one, computes the
    report now and stores it.
    """
    found = latest_snapshot(db)
    if found is None:
        report, computed_at = refresh_snapshot(get_engine()), None
    else:
        report, computed_at = found[0], found[1].created_at
    figures = _figures(
        request,
        {
            "forecast": charts.demand_forecast,
            "decomposition": charts.category_decomposition,
            "cohorts": charts.cohort_retention,
        },
        report,
    )
    context = {
        "active": "reports",
        "report": report,
        "figures": figures,
        "computed_at": computed_at,
    }
    response = render(request, "reports/demand.html", context)
    response.headers["Content-Security-Policy"] = CHART_PAGE_POLICY
    return response
